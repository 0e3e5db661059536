-- Reconciliation: the job (`kwq8 jobs reconcile`) asks get-payment-status about every payment
-- with a track id that is not settled as paid (pending, failed or cancelled, within
-- settings.reconcile_window of its checkout) and records the answer here. Nothing with a track
-- id is closed before such a check: money UPayments captured is found and recorded even after
-- the checkout was closed, and a pending payment is closed as abandoned only when its checkout
-- time limit has passed and UPayments still reports it not captured.

-- The payments due for a check, least recently checked first.
create or replace function payments.reconcile_candidates(p_limit integer default 100)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object('order_id', c.order_id, 'track_id', c.track_id, 'status', c.status)
        order by c.checked_at nulls first, c.created_at), '[]'::jsonb)
    from (
    select p.order_id, p.track_id, p.status, p.checked_at, p.created_at
    from public.payments as p
    cross join payments.settings as s
    where p.status in ('pending', 'failed', 'cancelled')
        and p.track_id is not null
        and p.created_at > billing.clock() - s.reconcile_window
        and (p.checked_at is null or p.checked_at <= billing.clock() - s.reconcile_interval)
        and (p.status <> 'pending' or p.created_at <= billing.clock() - s.reconcile_min_age)
    order by p.checked_at nulls first, p.created_at
    limit greatest(least(p_limit, 1000), 0)
    ) as c
$$;

-- Record what get-payment-status answered for a payment's track id (p_verified as in
-- payments.record_payment_event). Returns the outcome and the payment.
create or replace function payments.record_status_check(p_order_id text, p_verified jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_payment public.payments;
    v_outcome text;
    v_applied record;
    v_abandon boolean;
begin
    if p_verified is null or jsonb_typeof(p_verified) <> 'object' then
        perform private.raise_error('VAL_001', 'verified must be the status answer as a JSON object');
    end if;
    v_payment := payments.lock_payment(p_order_id);
    if v_payment.track_id is null then
        perform private.raise_error('VAL_001', format('order %s has no track id to check', p_order_id));
    end if;
    v_abandon := v_payment.status = 'pending'
        and v_payment.created_at <= v_now - (select s.checkout_ttl from payments.settings as s);
    select * into v_applied from payments.apply_status(v_payment, v_payment.track_id, p_verified, true, v_abandon);
    v_payment := v_applied.payment;
    v_outcome := v_applied.outcome;
    update public.payments
    set checked_at = v_now, checked_result = left(p_verified ->> 'result', 50)
    where id = v_payment.id
    returning * into v_payment;
    return jsonb_build_object('outcome', v_outcome, 'payment', payments.payment_json(v_payment));
end
$$;

create or replace function public.reconcile_candidates(max_rows integer default 100)
returns setof public.reconcile_candidate
language sql
stable
set search_path = ''
as $$
    select * from jsonb_populate_recordset(null::public.reconcile_candidate, payments.reconcile_candidates(max_rows))
$$;

create or replace function public.record_status_check(order_id text, verified jsonb)
returns public.status_check_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.status_check_result, payments.record_status_check(order_id, verified))
$$;

revoke all on function payments.reconcile_candidates(integer), payments.record_status_check(text, jsonb),
public.reconcile_candidates(integer), public.record_status_check(text, jsonb) from public;
grant execute on function payments.reconcile_candidates(integer), payments.record_status_check(text, jsonb),
public.reconcile_candidates(integer), public.record_status_check(text, jsonb) to service_role;
