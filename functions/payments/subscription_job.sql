-- The payments job (pg_cron every 5 minutes where installed, or `kwq8 jobs run`): end the
-- subscriptions whose prepaid period is over (and, per payments.settings, what is left of their
-- monthly credits), close abandoned checkouts, release expired holds and expire ended credit
-- grants (the credits sweepers), and forget old rate-limit counters. Users whose row is locked
-- right now are skipped; the next run, or their own next payment, catches up.

-- End one subscription whose period is over; the caller holds the user's and the subscription's
-- locks. Returns how many grants expired with it.
create or replace function payments.end_subscription(p_sub public.subscriptions)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
begin
    update public.subscriptions
    set status = case when p_sub.cancel_at_period_end then 'cancelled' else 'expired' end,
        ended_at = p_sub.current_period_end, updated_at = v_now
    where id = p_sub.id;
    -- The plan columns describe the current subscription: no subscription, no plan.
    update public.users
    set plan = null, plan_period_start = null, plan_period_end = null, updated_at = v_now
    where id = p_sub.user_id and plan_period_end <= v_now;
    if not (select s.expire_credits_with_subscription from payments.settings as s) then
        return 0;
    end if;
    -- Monthly credits roll over only into a following paid period: what is left ends with it.
    return billing.end_grants_of_source(p_sub.user_id, 'monthly', p_sub.current_period_end);
end
$$;

-- The user's own upkeep (billing.lock_user, under the user's lock) ends a subscription whose
-- grace window is over, so its monthly credits are gone at that moment, not when the job runs.
create or replace function payments.end_lapsed_subscription(p_user uuid, p_now timestamptz)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_sub public.subscriptions;
begin
    select * into v_sub from public.subscriptions as s where s.user_id = p_user for update;
    if found and v_sub.status = 'active'
        and v_sub.current_period_end + (select s.renewal_grace from payments.settings as s) <= p_now then
        return payments.end_subscription(v_sub);
    end if;
    return 0;
end
$$;

create or replace function payments.expire_subscriptions(p_limit integer default 1000)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_grace interval := (select s.renewal_grace from payments.settings as s);
    v_row record;
    v_sub public.subscriptions;
    v_ended integer := 0;
    v_grants integer := 0;
begin
    for v_row in
        select s.id, s.user_id from public.subscriptions as s
        where s.status = 'active' and s.current_period_end <= v_now - v_grace
        order by s.user_id
        limit greatest(p_limit, 0)
    loop
        if billing.try_lock_user(v_row.user_id) then
            select * into v_sub from public.subscriptions as s where s.id = v_row.id for update;
            if v_sub.status = 'active' and v_sub.current_period_end <= v_now - v_grace then
                v_grants := v_grants + payments.end_subscription(v_sub);
                v_ended := v_ended + 1;
            end if;
        end if;
    end loop;
    return jsonb_build_object('subscriptions_ended', v_ended, 'subscription_credits_expired', v_grants);
end
$$;

-- Pending checkouts nobody paid within settings.checkout_ttl become 'cancelled' (abandoned),
-- provided they never reached UPayments (no track id): one with a track id is closed only by
-- the reconciliation job, after get-payment-status said it was not captured.
create or replace function payments.close_abandoned_checkouts(p_limit integer default 1000)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_cutoff timestamptz := v_now - (select s.checkout_ttl from payments.settings as s);
    v_row record;
    v_count integer := 0;
begin
    for v_row in
        select p.id, p.user_id from public.payments as p
        where p.status = 'pending' and p.created_at <= v_cutoff and p.track_id is null
        order by p.user_id
        limit greatest(p_limit, 0)
    loop
        if billing.try_lock_user(v_row.user_id) then
            update public.payments
            set status = 'cancelled', closed_at = v_now, updated_at = v_now,
                status_reason = 'abandoned: not paid within the checkout time limit'
            where id = v_row.id and status = 'pending' and track_id is null;
            if found then
                v_count := v_count + 1;
            end if;
        end if;
    end loop;
    return v_count;
end
$$;

create or replace function payments.run_payment_jobs()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_result jsonb;
    v_deleted integer;
begin
    v_result := payments.expire_subscriptions();
    v_result := v_result || jsonb_build_object('checkouts_abandoned', payments.close_abandoned_checkouts());
    v_result := v_result || to_jsonb(billing.run_credit_sweepers());
    v_result := v_result || domains.run_jobs();
    delete from ratelimit.rate_limits as r
    where r.window_start < billing.clock() - (select s.rate_limit_retention from ratelimit.settings as s);
    get diagnostics v_deleted = row_count;
    return v_result || jsonb_build_object('rate_limit_rows_deleted', v_deleted);
end
$$;

-- The customer's "do not renew" switch (trusted servers only). SUB_001 without an active
-- subscription. Idempotent.
create or replace function payments.set_cancel_at_period_end(p_user uuid, p_cancel boolean)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_sub public.subscriptions;
begin
    if p_cancel is null then
        perform private.raise_error('VAL_001', 'cancel must be true or false');
    end if;
    perform billing.lock_user(p_user, v_now);
    select * into v_sub from public.subscriptions as s where s.user_id = p_user for update;
    if not found or v_sub.status <> 'active' or v_sub.current_period_end <= v_now then
        perform private.raise_error('SUB_001', format('user %s has no active subscription', p_user));
    end if;
    if v_sub.cancel_at_period_end is distinct from p_cancel then
        update public.subscriptions set cancel_at_period_end = p_cancel, updated_at = v_now
        where id = v_sub.id
        returning * into v_sub;
    end if;
    return jsonb_build_object(
        'plan', v_sub.plan, 'status', v_sub.status, 'current_period_start', v_sub.current_period_start,
        'current_period_end', v_sub.current_period_end, 'cancel_at_period_end', v_sub.cancel_at_period_end
    );
end
$$;

create or replace function public.run_payment_jobs()
returns public.payment_jobs_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.payment_jobs_result, payments.run_payment_jobs())
$$;

create or replace function public.set_cancel_at_period_end(user_id uuid, cancel boolean)
returns public.subscription_state
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.subscription_state, payments.set_cancel_at_period_end(user_id, cancel))
$$;

revoke all on function payments.end_subscription(public.subscriptions),
payments.end_lapsed_subscription(uuid, timestamptz) from public;
revoke all on function payments.expire_subscriptions(integer), payments.close_abandoned_checkouts(integer),
payments.run_payment_jobs(), payments.set_cancel_at_period_end(uuid, boolean), public.run_payment_jobs(),
public.set_cancel_at_period_end(uuid, boolean) from public;
grant execute on function payments.expire_subscriptions(integer), payments.close_abandoned_checkouts(integer),
payments.run_payment_jobs(), payments.set_cancel_at_period_end(uuid, boolean), public.run_payment_jobs(),
public.set_cancel_at_period_end(uuid, boolean) to service_role;
