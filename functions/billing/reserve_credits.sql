-- Holds for long AI generations: reserve an action's cost now (TTL from billing.settings,
-- 15 minutes by default), capture all or less later, or release. Held credits leave the
-- balance at once, so a hold can never be overspent by parallel requests.
create or replace function billing.reserve_credits(p_action text, p_key text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_user_id uuid := billing.require_caller();
    v_settings billing.settings;
    v_cost public.action_costs;
    v_user public.users;
    v_prior public.credit_transactions;
    v_plan public.plans;
    v_fingerprint text;
    v_hold uuid := extensions.gen_random_uuid();
    v_tx uuid := billing.uuid_v7();
    v_expires timestamptz;
    v_balance numeric;
begin
    perform billing.require_client_key(p_key);
    select * into v_cost from public.action_costs where action = p_action and active;
    if not found then
        perform private.raise_error('CREDIT_003', format('unknown action %s', coalesce(p_action, 'null')));
    end if;
    select * into v_settings from billing.settings;
    v_fingerprint := billing.fingerprint('reserve', jsonb_build_object('action', v_cost.action));
    v_user := billing.lock_user(v_user_id, billing.clock());
    v_prior := billing.replay_entry(v_user_id, p_key, 'hold', v_fingerprint);
    if v_prior.id is not null then
        return (
            select jsonb_build_object(
                'hold_id', h.id, 'amount', h.amount, 'expires_at', h.expires_at, 'balance', v_prior.balance_after
            )
            from billing.holds as h where h.id = v_prior.hold_id
        );
    end if;
    if v_cost.allowed_plans is not null then
        v_plan := billing.active_plan(v_user_id);
        if v_plan.code is null or not v_plan.code = any(v_cost.allowed_plans) then
            perform private.raise_error(
                'CREDIT_004',
                format('%s needs one of the plans %s', v_cost.action, array_to_string(v_cost.allowed_plans, ', '))
            );
        end if;
    end if;
    if (select count(*) from billing.holds where user_id = v_user_id and status = 'active') >= v_settings.max_active_holds
        then
        perform private.raise_error(
            'CREDIT_002', format('at most %s holds may be active at once', v_settings.max_active_holds)
        );
    end if;
    if v_user.credits_balance < v_cost.cost or billing.consume(v_user_id, v_tx, v_cost.cost, billing.clock()) < v_cost.cost
        then
        perform private.raise_error(
            'CREDIT_001', format('balance %s is less than the cost %s', v_user.credits_balance, v_cost.cost)
        );
    end if;
    v_expires := billing.clock() + v_settings.hold_ttl;
    insert into billing.holds (id, user_id, action, amount, expires_at)
    values (v_hold, v_user_id, v_cost.action, v_cost.cost, v_expires);
    -- The hold's expiry is one of the user's credit events (see billing.schedule_credit_events).
    update public.users
    set credits_balance = credits_balance - v_cost.cost, updated_at = billing.clock(),
        credits_next_event_at = least(credits_next_event_at, v_expires)
    where id = v_user_id
    returning credits_balance into v_balance;
    insert into public.credit_transactions (
        id, user_id, transaction_type, credits_amount, balance_after, description, action, hold_id,
        idempotency_key, request_fingerprint
    )
    values (
        v_tx, v_user_id, 'hold', -v_cost.cost, v_balance, 'Credits held', v_cost.action, v_hold,
        p_key, v_fingerprint
    );
    return jsonb_build_object('hold_id', v_hold, 'amount', v_cost.cost, 'expires_at', v_expires, 'balance', v_balance);
end
$$;

create or replace function public.reserve_credits(action text, idempotency_key text)
returns public.credit_hold
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.credit_hold, billing.reserve_credits(action, idempotency_key))
$$;

revoke all on function billing.reserve_credits(text, text), public.reserve_credits(text, text) from public;
grant execute on function billing.reserve_credits(text, text), public.reserve_credits(text, text)
to authenticated;
