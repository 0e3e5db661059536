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
    v_user public.users := billing.lock_user(p_user, v_now);
    v_prior public.credit_transactions;
    v_plan public.plans;
    v_tx uuid := billing.uuid_v7();
    v_balance numeric;
begin
    select * into v_prior from public.credit_transactions where user_id = p_user and idempotency_key = p_key;
    if found then
        if v_prior.request_fingerprint <> p_fingerprint or v_prior.transaction_type <> 'spend' then
            perform private.raise_error('CREDIT_005', format('key %s was used for another request', p_key));
        end if;
        return jsonb_build_object(
            'transaction_id', v_prior.id, 'charged', -v_prior.credits_amount, 'balance', v_prior.balance_after
        );
    end if;
    if p_allowed_plans is not null then
        v_plan := billing.active_plan(p_user);
        if v_plan.code is null or not v_plan.code = any(p_allowed_plans) then
            perform private.raise_error(
                'CREDIT_004', format('%s needs one of the plans %s', p_action, array_to_string(p_allowed_plans, ', '))
            );
        end if;
    end if;
    if v_user.credits_balance < p_amount then
        perform private.raise_error(
            'CREDIT_001', format('balance %s is less than the cost %s', v_user.credits_balance, p_amount)
        );
    end if;
    -- The row lock makes the new balance known now: ledger entry first, then the grants it
    -- draws on, then the balance. A shortfall rolls all three back.
    v_balance := v_user.credits_balance - p_amount;
    insert into public.credit_transactions (
        id, user_id, transaction_type, credits_amount, balance_after, description, action,
        idempotency_key, request_fingerprint
    )
    values (v_tx, p_user, 'spend', -p_amount, v_balance, p_description, p_action, p_key, p_fingerprint);
    if billing.consume(p_user, v_tx, p_amount, v_now) < p_amount then
        raise exception 'credit invariant broken: live grants of user % do not cover the stored balance', p_user;
    end if;
    update public.users set credits_balance = v_balance, updated_at = v_now where id = p_user;
    return jsonb_build_object('transaction_id', v_tx, 'charged', p_amount, 'balance', v_balance);
end
$$;

-- The signed-in user spends the price of an action; the amount comes from action_costs, never
-- from the browser.
create or replace function billing.spend_for_caller(p_action text, p_key text, p_description text)
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
    if char_length(p_description) > 500 then
        perform private.raise_error('VAL_001', 'description is longer than 500 characters');
    end if;
    p_description := nullif(btrim(p_description), '');
    select * into v_cost from public.action_costs where action = p_action and active;
    if not found then
        perform private.raise_error('CREDIT_003', format('unknown action %s', coalesce(p_action, 'null')));
    end if;
    return billing.spend(
        v_user, v_cost.action, v_cost.cost, v_cost.allowed_plans, p_key, p_description,
        md5('spend:' || v_cost.action || ':' || coalesce(p_description, ''))
    );
end
$$;

create or replace function public.spend_credits(action text, idempotency_key text, description text default null)
returns jsonb
language sql
volatile
set search_path = ''
as $$
    select billing.spend_for_caller(action, idempotency_key, description)
$$;

-- The brief's deductCredits, made safe: trusted servers charge an arbitrary amount.
create or replace function billing.deduct(p_user uuid, p_amount numeric, p_description text, p_key text)
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
    perform billing.require_key(p_key);
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
returns jsonb
language sql
volatile
set search_path = ''
as $$
    select billing.deduct(user_id, amount, description, idempotency_key)
$$;

revoke all on function billing.spend(uuid, text, numeric, text[], text, text, text) from public;
revoke all on function billing.spend_for_caller(text, text, text) from public;
revoke all on function public.spend_credits(text, text, text) from public;
revoke all on function billing.deduct(uuid, numeric, text, text) from public;
revoke all on function public.deduct_credits(uuid, numeric, text, text) from public;
grant execute on function billing.spend_for_caller(text, text, text) to authenticated;
grant execute on function public.spend_credits(text, text, text) to authenticated;
grant execute on function billing.deduct(uuid, numeric, text, text) to service_role;
grant execute on function public.deduct_credits(uuid, numeric, text, text) to service_role;
