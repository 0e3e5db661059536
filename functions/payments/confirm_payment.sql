-- Confirming a payment: in one transaction, mark it paid, activate or extend the subscription,
-- set the user's plan columns (which the credits code reads for the daily bonus and plan
-- gating) and grant the plan's monthly credits under the key 'payment:<order_id>'. A payment is
-- fulfilled once: a confirmed payment is never fulfilled again, and the ledger refuses a second
-- grant under the same key anyway.
--
-- Only call this with a capture UPayments confirmed (get-payment-status said CAPTURED for this
-- order and amount). Money received is always recorded as paid, even when the checkout was
-- closed meanwhile; when the subscription changed under the checkout so that it cannot be
-- applied as bought (a prorated upgrade whose period is no longer the one it was priced for,
-- a full-price plan while another plan is active) the payment is 'paid' with fulfilment
-- 'needs_review' and grants nothing: an operator refunds it or applies it by hand.

-- Fulfil a payment; the caller holds the user's and the payment's locks.
create or replace function payments.fulfil(p_payment public.payments, p_track_id text, p_provider_payment_id text)
returns public.payments
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_plan public.plans;
    v_sub public.subscriptions;
    v_has_sub boolean;
    v_active boolean;
    v_start timestamptz;
    v_end timestamptz;
    v_bought_start timestamptz;  -- the period this payment adds (none for an upgrade)
    v_credits numeric := 0;
    v_review text;
    v_key text := 'payment:' || p_payment.order_id;
    v_result public.payments;
begin
    if p_payment.purpose = 'credit_pack' then
        return payments.fulfil_pack(p_payment, p_track_id, p_provider_payment_id);
    end if;
    -- A domain payment delivers a queued registration, not a plan (functions/domains/checkout.sql).
    if p_payment.purpose = 'domain' then
        return domains.fulfil_payment(p_payment, p_track_id, p_provider_payment_id);
    end if;
    select * into strict v_plan from public.plans as p where p.code = p_payment.plan;
    select * into v_sub from public.subscriptions as s where s.user_id = p_payment.user_id for update;
    v_has_sub := found;
    -- A subscription past its grace window ends here and now, as the job would have ended it;
    -- so does one whose period is over when another plan is bought (that starts afresh).
    if v_has_sub and v_sub.status = 'active' and (
        v_sub.current_period_end + (select s.renewal_grace from payments.settings as s) <= v_now
        or (v_sub.current_period_end <= v_now and v_sub.plan <> p_payment.plan
            and v_sub.scheduled_plan is distinct from p_payment.plan)
    ) then
        perform payments.end_subscription(v_sub);
        select * into v_sub from public.subscriptions as s where s.id = v_sub.id;
    end if;
    v_active := v_has_sub and v_sub.status = 'active';

    if p_payment.kind = 'upgrade' then
        if v_active and v_sub.plan = p_payment.proration ->> 'from_plan' and v_sub.current_period_end > v_now
            and v_sub.current_period_end = (p_payment.proration ->> 'period_end')::timestamptz then
            v_start := v_sub.current_period_start;
            v_end := v_sub.current_period_end;
            v_credits := (p_payment.proration ->> 'credits')::numeric;
        else
            v_review := format('upgrade priced for the %s period ending %s, but the subscription is now %s',
                p_payment.proration ->> 'from_plan', p_payment.proration ->> 'period_end',
                case when v_active then v_sub.plan || ' until ' || v_sub.current_period_end else 'not active' end);
        end if;
    elsif v_active then
        -- A renewal of the plan, or (the period over) of the plan a downgrade was scheduled to.
        if v_sub.plan = p_payment.plan
            or (v_sub.scheduled_plan = p_payment.plan and v_sub.current_period_end <= v_now) then
            v_start := v_sub.current_period_start;
            v_bought_start := v_sub.current_period_end;
            v_end := payments.next_period_end(v_sub.current_period_start, v_sub.current_period_end, v_plan.billing_period);
            v_credits := v_plan.monthly_credits;
        else
            v_review := format('payment for %s while the %s subscription is active until %s',
                p_payment.plan, v_sub.plan, v_sub.current_period_end);
        end if;
    else
        v_start := v_now;
        v_bought_start := v_now;
        v_end := payments.add_period(v_now, v_plan.billing_period);
        v_credits := v_plan.monthly_credits;
    end if;

    if v_review is null then
        -- Applying the payment runs in its own subtransaction: whatever fails in it (a grant the
        -- ledger refuses, a constraint) is undone alone, and the capture is still recorded below as
        -- paid with fulfilment 'needs_review', so money received is never lost to a rollback.
        begin
            if v_has_sub then
                update public.subscriptions
                set plan = p_payment.plan, status = 'active', current_period_start = v_start, current_period_end = v_end,
                    cancel_at_period_end = false, scheduled_plan = null, last_payment_id = p_payment.id, ended_at = null,
                    updated_at = v_now
                where id = v_sub.id;
            else
                insert into public.subscriptions (
                    user_id, plan, status, current_period_start, current_period_end, last_payment_id, created_at,
                    updated_at
                )
                values (p_payment.user_id, p_payment.plan, 'active', v_start, v_end, p_payment.id, v_now, v_now);
            end if;
            update public.users
            set plan = p_payment.plan, plan_period_start = v_start, plan_period_end = v_end, updated_at = v_now
            where id = p_payment.user_id;
            if v_credits > 0 then
                if p_payment.kind = 'upgrade' then
                    perform billing.grant_credits(
                        p_payment.user_id, v_credits, 'monthly',
                        v_end + v_plan.rollover_periods * v_plan.billing_period, v_key,
                        format('%s plan: prorated monthly credits (upgrade)', v_plan.name_en)
                    );
                else
                    perform billing.grant_monthly_credits(p_payment.user_id, p_payment.plan, v_end, v_key);
                end if;
            end if;
        exception
            when serialization_failure or deadlock_detected or lock_not_available then
                raise;  -- transient: the caller retries the whole notification
            when others then
                v_review := left('fulfilment failed: ' || sqlerrm, 500);
        end;
    end if;

    update public.payments
    set status = 'paid', paid_at = v_now, closed_at = null, status_reason = v_review,
        fulfilment = case when v_review is null then 'fulfilled' else 'needs_review' end,
        credits_granted = case when v_review is null then v_credits else 0 end,
        captured_amount_kwd = p_payment.amount_kwd, captured_currency = p_payment.currency,
        period_start = case when v_review is null then v_bought_start end,
        period_end = case when v_review is null and v_bought_start is not null then v_end end,
        track_id = coalesce(track_id, p_track_id),
        provider_payment_id = coalesce(left(p_provider_payment_id, 255), provider_payment_id),
        updated_at = v_now
    where id = p_payment.id
    returning * into v_result;
    return v_result;
end
$$;

-- Confirm a captured payment (trusted servers: the status poll after the customer returns, and
-- operators reconciling by hand). The amount and currency must be exactly the order's.
-- Idempotent: confirming a paid payment again answers as the first time, with replay = true.
create or replace function payments.confirm_payment(
    p_order_id text, p_track_id text, p_provider_payment_id text, p_amount numeric, p_currency text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_payment public.payments;
begin
    v_payment := payments.lock_payment(p_order_id);
    if v_payment.status in ('paid', 'refunded', 'needs_review') then
        return payments.payment_json(v_payment) || jsonb_build_object('replay', true);
    end if;
    if p_amount is null or p_amount <> v_payment.amount_kwd then
        perform private.raise_error('PAY_003', format('order %s is for %s KWD, the capture is for %s',
            p_order_id, v_payment.amount_kwd, coalesce(p_amount::text, 'an unknown amount')));
    end if;
    if p_currency is null or upper(p_currency) <> v_payment.currency then
        perform private.raise_error('PAY_003', format('order %s is in %s, the capture in %s',
            p_order_id, v_payment.currency, coalesce(p_currency, 'an unknown currency')));
    end if;
    if p_track_id is not null and v_payment.track_id is not null and p_track_id <> v_payment.track_id then
        perform private.raise_error('PAY_003', format('order %s has track id %s, not %s',
            p_order_id, v_payment.track_id, p_track_id));
    end if;
    if p_track_id is not null and exists (
        select from public.payments as p where p.track_id = p_track_id and p.id <> v_payment.id
    ) then
        perform private.raise_error('PAY_003', format('track id %s belongs to another order', p_track_id));
    end if;
    v_payment := payments.fulfil(v_payment, p_track_id, p_provider_payment_id);
    return payments.payment_json(v_payment) || jsonb_build_object('replay', false);
end
$$;

create or replace function public.confirm_payment(
    order_id text, track_id text, provider_payment_id text, amount_kwd numeric, currency text default 'KWD'
)
returns public.payment_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.payment_result, payments.confirm_payment(order_id, track_id, provider_payment_id, amount_kwd, currency))
$$;

revoke all on function payments.fulfil(public.payments, text, text) from public;
revoke all on function payments.confirm_payment(text, text, text, numeric, text),
public.confirm_payment(text, text, text, numeric, text) from public;
grant execute on function payments.confirm_payment(text, text, text, numeric, text),
public.confirm_payment(text, text, text, numeric, text) to service_role;
