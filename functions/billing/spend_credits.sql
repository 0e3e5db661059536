-- Spending credits: the browser's spend_credits(action) and the trusted servers'
-- deduct_credits(user_id, amount), one core, race-free: the user's row lock is taken before
-- the balance is read, so parallel spends queue and each sees the balance the previous left.

create or replace function billing.spend(
    p_user uuid,
    p_action text,
    p_amount numeric,
    p_allowed_plans text[],
    p_key text,
    p_description text,
    p_fingerprint text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_user public.users;
    v_prior public.credit_transactions;
    v_plan public.plans;
    v_tx uuid := billing.uuid_v7();
    v_grant uuid;
    v_balance numeric;
begin
    -- Fast path, one statement: lock the user's row and debit it, provided the balance covers
    -- the cost, no credit event (expiry, daily bonus) is due, and the plan allows the action.
    -- Parallel spends queue on the row; each re-checks these conditions on the version the
    -- previous one committed.
    update public.users as u
    set credits_balance = u.credits_balance - p_amount, updated_at = v_now
    where u.id = p_user
        and u.credits_balance >= p_amount
        and (u.credits_next_event_at is null or u.credits_next_event_at > v_now)
        and (p_allowed_plans is null or (u.plan = any(p_allowed_plans) and u.plan_period_end > v_now))
    returning u.credits_balance into v_balance;
    if not found then
        -- Slow path: lock with upkeep, then answer a retry, refuse, or debit.
        v_user := billing.lock_user(p_user, v_now);
        v_prior := billing.replay_entry(p_user, p_key, 'spend', p_fingerprint);
        if v_prior.id is not null then
            return billing.spend_replay(v_prior, p_key, p_action, p_description);
        end if;
        if p_allowed_plans is not null then
            v_plan := billing.active_plan(p_user);
            if v_plan.code is null or not v_plan.code = any(p_allowed_plans) then
                perform private.raise_error(
                    'CREDIT_004',
                    format('%s needs one of the plans %s', p_action, array_to_string(p_allowed_plans, ', '))
                );
            end if;
        end if;
        if v_user.credits_balance < p_amount then
            perform private.raise_error(
                'CREDIT_001', format('balance %s is less than the cost %s', v_user.credits_balance, p_amount)
            );
        end if;
        update public.users set credits_balance = credits_balance - p_amount, updated_at = v_now
        where id = p_user
        returning credits_balance into v_balance;
    end if;
    -- Most spends fit in the first live grant in burn-down order (daily bonus, soonest expiry,
    -- promotional before paid, oldest): take it all there and name the grant on the entry. No
    -- row lock on grants is needed: they change only under the user's row lock, held now. A
    -- grant is live from its commit, whatever this transaction's clock says (see billing.consume).
    update billing.grants as g
    set remaining = g.remaining - p_amount
    where g.id = (
        select f.id
        from billing.grants as f
        where f.user_id = p_user and f.remaining > 0
            and (f.expires_at is null or f.expires_at > v_now)
        order by f.source = 'daily_bonus' desc, f.expires_at asc nulls last,
            f.source in ('monthly', 'purchase') asc, f.effective_at, f.created_at, f.id
        limit 1
    )
        and g.remaining >= p_amount
    returning g.id into v_grant;
    -- The unique (user_id, idempotency_key) index decides whether this key is new.
    insert into public.credit_transactions (
        id, user_id, transaction_type, credits_amount, balance_after, description, action,
        idempotency_key, request_fingerprint, grant_id
    )
    values (v_tx, p_user, 'spend', -p_amount, v_balance, p_description, p_action, p_key, p_fingerprint, v_grant)
    on conflict (user_id, idempotency_key) do nothing;
    if not found then
        -- A retry of an earlier spend (the fast path does not look first): give back what this
        -- call took and answer as the first call did. A mismatch raises, which undoes it all.
        v_prior := billing.replay_entry(p_user, p_key, 'spend', p_fingerprint);
        if v_grant is not null then
            update billing.grants set remaining = remaining + p_amount where id = v_grant;
        end if;
        update public.users set credits_balance = credits_balance + p_amount where id = p_user;
        return billing.spend_replay(v_prior, p_key, p_action, p_description);
    end if;
    if v_grant is null then
        -- Spread over several grants: one allocation row per grant drawn on.
        if billing.consume(p_user, v_tx, p_amount, v_now) < p_amount then
            raise exception 'credit invariant broken: live grants of user % do not cover the stored balance', p_user;
        end if;
    end if;
    return jsonb_build_object('transaction_id', v_tx, 'charged', p_amount, 'balance', v_balance);
end
$$;

-- The answer to a repeated idempotency key (found by billing.replay_entry, which compares the
-- fingerprint: what else the caller chose, deduct_credits' amount): the first spend's result, or
-- CREDIT_005 when the action or description differ, which are compared on the entry itself.
drop function if exists billing.spend_replay(public.credit_transactions, text, text, text, text);
create or replace function billing.spend_replay(
    p_prior public.credit_transactions, p_key text, p_action text, p_description text
)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
    if p_prior.action is distinct from p_action or p_prior.description is distinct from p_description then
        perform private.raise_error('CREDIT_005', format('key %s was used for another request', p_key));
    end if;
    return jsonb_build_object(
        'transaction_id', p_prior.id, 'charged', -p_prior.credits_amount, 'balance', p_prior.balance_after
    );
end
$$;

-- The signed-in user spends the price of an action; the amount comes from action_costs, never
-- from the browser.
create or replace function billing.spend_credits(p_action text, p_key text, p_description text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_user uuid := auth.uid();
    v_cost public.action_costs;
begin
    -- The checks of billing.require_caller/require_key/require_text, inline: this is the hot path.
    if v_user is null then
        perform private.raise_error('AUTH_004', 'no user in the request''s JWT');
    end if;
    if p_key is null or char_length(p_key) not between 1 and 255 or p_key ~ '[[:cntrl:]]' or btrim(p_key) = '' then
        perform private.raise_error('CREDIT_006', 'idempotency_key must be 1-255 printable characters');
    end if;
    if lower(left(p_key, 4)) = 'srv:' then
        perform private.raise_error('CREDIT_015', 'keys beginning with srv: are reserved for trusted servers');
    end if;
    if char_length(p_description) > 500 then
        perform private.raise_error('VAL_001', 'description is longer than 500 characters');
    end if;
    if p_description ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]' then
        perform private.raise_error('VAL_002', 'description contains a control character');
    end if;
    p_description := nullif(btrim(p_description), '');
    select * into v_cost from public.action_costs where action = p_action and active;
    if not found then
        perform private.raise_error('CREDIT_003', format('unknown action %s', coalesce(p_action, 'null')));
    end if;
    return billing.spend(
        v_user, v_cost.action, v_cost.cost, v_cost.allowed_plans, p_key, p_description,
        'spend_credits'
    );
end
$$;

-- PL/pgSQL rather than SQL: a SQL function with a SET clause is parsed and planned on every
-- call; PL/pgSQL keeps the plan for the session.
create or replace function public.spend_credits(action text, idempotency_key text, description text default null)
returns public.credit_spend
language plpgsql
volatile
set search_path = ''
as $$
begin
    return jsonb_populate_record(null::public.credit_spend, billing.spend_credits(action, idempotency_key, description));
end
$$;

-- Charge an arbitrary amount for trusted servers (deduct_credits): the same locked, idempotent
-- path as a spend, with the amount given by the caller instead of an action's price.
create or replace function billing.deduct_credits(p_user uuid, p_amount numeric, p_description text, p_key text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_max numeric := (select s.max_deduct_credits from billing.settings as s);
    v_amount numeric := billing.require_amount(p_amount, v_max);
    v_description text := billing.require_text(p_description, 'description', 500, true);
begin
    p_key := billing.server_key(p_key);
    if p_user is null then
        perform private.raise_error('CREDIT_014', 'user_id is required');
    end if;
    return billing.spend(
        p_user, null, v_amount, null, p_key, v_description,
        billing.fingerprint('deduct', jsonb_build_object('amount', v_amount, 'description', v_description))
    );
end
$$;

create or replace function public.deduct_credits(user_id uuid, amount numeric, description text, idempotency_key text)
returns public.credit_spend
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.credit_spend, billing.deduct_credits(user_id, amount, description, idempotency_key))
$$;

revoke all on function billing.spend(uuid, text, numeric, text[], text, text, text) from public;
revoke all on function billing.spend_replay(public.credit_transactions, text, text, text) from public;
revoke all on function billing.spend_credits(text, text, text) from public;
revoke all on function public.spend_credits(text, text, text) from public;
revoke all on function billing.deduct_credits(uuid, numeric, text, text) from public;
revoke all on function public.deduct_credits(uuid, numeric, text, text) from public;
grant execute on function billing.spend_credits(text, text, text) to authenticated;
grant execute on function public.spend_credits(text, text, text) to authenticated;
grant execute on function billing.deduct_credits(uuid, numeric, text, text) to service_role;
grant execute on function public.deduct_credits(uuid, numeric, text, text) to service_role;
