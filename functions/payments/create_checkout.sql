-- Checkout (trusted servers only): a pending payment with a unique order id, then the charge
-- UPayments created for it (track id and payment page), or the error it answered with.
--
-- What a checkout costs, decided here and fixed in the payment row:
--  * no active subscription: 'new', the plan's price;
--  * active on the same plan: 'renewal', the plan's price (the period is extended from its end);
--  * active on a cheaper plan: 'upgrade', prorated. The plan changes when the payment is
--    confirmed and the period end stays. The customer pays the price difference for the time
--    left, and gets the monthly-credit difference for the time left:
--        fraction = (period end - now) / (length of one billing period ending at period end)
--        amount   = max(round((new price - old price) * fraction, 3), settings.min_charge_kwd)
--        credits  = floor((new monthly credits - old monthly credits) * fraction, 2 decimals)
--    The credits already granted for the period stay with the customer; nothing is refunded.
--  * active on a dearer (or equally priced) plan: refused with PAY_004. A downgrade is scheduled
--    for the period end instead (payments.schedule_plan_change), and once the period has ended
--    the scheduled plan renews: 'renewal', its price, the period chain continued.
-- payments.preview_checkout answers the same quote without creating anything.
-- What buying p_plan costs now, given the user's subscription (null: none): kind, amount and the
-- upgrade's proration basis. Raises PAY_004 for a plan that is neither new, a renewal nor an
-- upgrade now. Shared by the checkout and its preview, so the preview is the price charged.
create or replace function payments.quote(p_plan public.plans, p_sub public.subscriptions, p_now timestamptz)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    v_current public.plans;
    v_kind text := 'new';
    v_amount numeric := p_plan.price_kwd;
    v_fraction numeric;
    v_credits numeric;
    v_proration jsonb;
begin
    -- The same plan renews while the subscription is active, its grace window after the period
    -- end included, and so does the plan a downgrade was scheduled to once the period has ended;
    -- another plan is an upgrade while the period runs, and new after it.
    if p_sub.id is not null and p_sub.status = 'active'
        and p_sub.current_period_end + (select s.renewal_grace from payments.settings as s) > p_now then
        if p_sub.plan = p_plan.code then
            v_kind := 'renewal';
        elsif p_sub.scheduled_plan = p_plan.code and p_sub.current_period_end <= p_now then
            v_kind := 'renewal';
        elsif p_sub.current_period_end > p_now then
            select * into v_current from public.plans as p where p.code = p_sub.plan;
            if p_plan.price_kwd <= v_current.price_kwd then
                perform private.raise_error(
                    'PAY_004',
                    format('the %s subscription runs until %s; %s is not an upgrade', v_current.code,
                        p_sub.current_period_end, p_plan.code),
                    'schedule the change for the period end (POST /billing/subscription/change), '
                    || 'then renew on the new plan once the period has ended'
                );
            end if;
            v_kind := 'upgrade';
            v_fraction := extract(epoch from p_sub.current_period_end - p_now)
                / extract(epoch from p_sub.current_period_end
                    - payments.add_period(p_sub.current_period_end, -v_current.billing_period));
            v_amount := greatest(
                round((p_plan.price_kwd - v_current.price_kwd) * v_fraction, 3),
                (select s.min_charge_kwd from payments.settings as s)
            );
            v_credits := round(
                greatest(floor((p_plan.monthly_credits - v_current.monthly_credits) * v_fraction * 100) / 100, 0), 2
            );
            v_proration := jsonb_build_object(
                'from_plan', v_current.code,
                'from_price_kwd', v_current.price_kwd,
                'to_price_kwd', p_plan.price_kwd,
                'period_end', p_sub.current_period_end,
                'fraction', round(v_fraction, 6),
                'credits', v_credits
            );
        end if;
    end if;
    return jsonb_build_object(
        'plan', p_plan.code, 'kind', v_kind, 'amount_kwd', v_amount, 'currency', 'KWD', 'proration', v_proration
    );
end
$$;

create or replace function payments.create_checkout(p_user uuid, p_plan text, p_payment_method text, p_key text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_plan public.plans;
    v_sub public.subscriptions;
    v_prior public.payments;
    v_payment public.payments;
    v_fingerprint text;
    v_quote jsonb;
begin
    perform payments.require_checkout_request(p_user, p_key, p_payment_method);
    select * into v_plan from public.plans as p where p.code = p_plan and p.active;
    if not found then
        perform private.raise_error('VAL_001', format('unknown or inactive plan %s', coalesce(p_plan, 'null')));
    end if;
    v_fingerprint := billing.fingerprint(
        'checkout', jsonb_build_object('plan', p_plan, 'payment_method', p_payment_method)
    );

    perform billing.lock_user(p_user, v_now);
    v_prior := payments.earlier_checkout(p_user, p_key, 'plan', v_fingerprint);
    if v_prior.id is not null then
        return payments.payment_json(v_prior) || jsonb_build_object('replay', true);
    end if;

    select * into v_sub from public.subscriptions as s where s.user_id = p_user for update;
    v_quote := payments.quote(v_plan, v_sub, v_now);

    insert into public.payments (
        order_id, user_id, plan, kind, amount_kwd, payment_method, proration, idempotency_key,
        request_fingerprint, created_at, updated_at
    )
    values (
        'kwq8_' || replace(extensions.gen_random_uuid()::text, '-', ''), p_user, v_plan.code, v_quote ->> 'kind',
        (v_quote ->> 'amount_kwd')::numeric, p_payment_method, nullif(v_quote -> 'proration', 'null'::jsonb), p_key,
        v_fingerprint, v_now, v_now
    )
    returning * into v_payment;
    return payments.payment_json(v_payment) || jsonb_build_object('replay', false);
end
$$;

-- The pricing page's "what would this cost me now": the checkout's own quote, without creating
-- a payment or a charge.
create or replace function payments.preview_checkout(p_user uuid, p_plan text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_plan public.plans;
    v_sub public.subscriptions;
begin
    if p_user is null then
        perform private.raise_error('CREDIT_014', 'user_id is required');
    end if;
    select * into v_plan from public.plans as p where p.code = p_plan and p.active;
    if not found then
        perform private.raise_error('VAL_001', format('unknown or inactive plan %s', coalesce(p_plan, 'null')));
    end if;
    select * into v_sub from public.subscriptions as s where s.user_id = p_user;
    return payments.quote(v_plan, v_sub, billing.clock());
end
$$;

-- The charge UPayments created for a checkout. Idempotent: the same track id again changes
-- nothing; another track id for the same order is refused.
create or replace function payments.attach_checkout_charge(p_order_id text, p_track_id text, p_payment_url text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_payment public.payments;
begin
    perform payments.require_track_id(p_track_id);
    if p_payment_url is null or char_length(p_payment_url) > 2000 or p_payment_url !~ '^https?://[^[:space:]]+$' then
        perform private.raise_error('VAL_001', 'payment_url must be an http(s) URL of at most 2000 characters');
    end if;
    v_payment := payments.lock_payment(p_order_id);
    if v_payment.track_id = p_track_id and v_payment.payment_url = p_payment_url then
        return payments.payment_json(v_payment) || jsonb_build_object('replay', true);
    end if;
    if v_payment.track_id is not null and v_payment.track_id <> p_track_id then
        perform private.raise_error('PAY_003', format('order %s already has track id %s', p_order_id, v_payment.track_id));
    end if;
    if exists (select from public.payments as p where p.track_id = p_track_id and p.id <> v_payment.id) then
        perform private.raise_error('PAY_003', format('track id %s belongs to another order', p_track_id));
    end if;
    update public.payments
    set track_id = p_track_id, payment_url = p_payment_url, last_error = null, updated_at = billing.clock()
    where id = v_payment.id
    returning * into v_payment;
    return payments.payment_json(v_payment) || jsonb_build_object('replay', false);
end
$$;

-- Before create-charge is called (it is not idempotent): the call is claimed, committed.
-- 'create': call it now. 'done': the payment has its link or is no longer pending; answer it as
-- it is. 'in_flight': another request is calling it now. 'lost': an earlier call ended without
-- a link (an error, no answer, or its caller died) and its charge may exist at UPayments, so the
-- payment is closed rather than charged twice; the customer starts a new checkout.
create or replace function payments.begin_charge(p_order_id text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_payment public.payments;
    v_state text;
begin
    v_payment := payments.lock_payment(p_order_id);
    if v_payment.status <> 'pending' or v_payment.payment_url is not null then
        v_state := 'done';
    elsif v_payment.charge_started_at is null then
        update public.payments set charge_started_at = clock_timestamp(), updated_at = v_now
        where id = v_payment.id
        returning * into v_payment;
        v_state := 'create';
    elsif v_payment.last_error is null and v_payment.charge_started_at > clock_timestamp() - interval '2 minutes' then
        -- Longer than any create-charge call may take (the client's timeout).
        v_state := 'in_flight';
    else
        update public.payments
        set status = 'cancelled', closed_at = v_now, updated_at = v_now,
            status_reason = 'closed: the UPayments charge of this checkout was created without an answer'
        where id = v_payment.id
        returning * into v_payment;
        v_state := 'lost';
    end if;
    return payments.payment_json(v_payment) || jsonb_build_object('charge', v_state);
end
$$;

-- UPayments did not create the charge (or did not answer in time): the payment stays pending,
-- with the reason for operators. Nothing changes once the payment has left 'pending'.
create or replace function payments.record_checkout_error(p_order_id text, p_error text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_payment public.payments;
begin
    if p_error is null or btrim(p_error) = '' then
        perform private.raise_error('VAL_001', 'error is required');
    end if;
    v_payment := payments.lock_payment(p_order_id);
    if v_payment.status = 'pending' then
        update public.payments
        set last_error = left(p_error, 500), updated_at = billing.clock()
        where id = v_payment.id
        returning * into v_payment;
    end if;
    return payments.payment_json(v_payment);
end
$$;

-- A user's own payment, for the service's status endpoint (PAY_002 for anyone else's).
create or replace function payments.get_payment(p_order_id text, p_user uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_payment public.payments;
begin
    select * into v_payment from public.payments as p where p.order_id = p_order_id and p.user_id = p_user;
    if not found then
        perform private.raise_error('PAY_002', format('no payment %s for this user', coalesce(p_order_id, 'null')));
    end if;
    return payments.payment_json(v_payment);
end
$$;

create or replace function public.create_checkout(user_id uuid, plan text, payment_method text, idempotency_key text)
returns public.payment_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.payment_result, payments.create_checkout(user_id, plan, payment_method, idempotency_key))
$$;

create or replace function public.attach_checkout_charge(order_id text, track_id text, payment_url text)
returns public.payment_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.payment_result, payments.attach_checkout_charge(order_id, track_id, payment_url))
$$;

create or replace function public.record_checkout_error(order_id text, error text)
returns public.payment_state
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.payment_state, payments.record_checkout_error(order_id, error))
$$;

create or replace function public.preview_checkout(user_id uuid, plan text)
returns public.checkout_quote
language sql
stable
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.checkout_quote, payments.preview_checkout(user_id, plan))
$$;

create or replace function public.get_payment(order_id text, user_id uuid)
returns public.payment_state
language sql
stable
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.payment_state, payments.get_payment(order_id, user_id))
$$;

revoke all on function payments.create_checkout(uuid, text, text, text),
payments.attach_checkout_charge(text, text, text), payments.begin_charge(text),
payments.record_checkout_error(text, text), payments.get_payment(text, uuid),
public.create_checkout(uuid, text, text, text), public.attach_checkout_charge(text, text, text),
public.record_checkout_error(text, text), public.get_payment(text, uuid),
payments.quote(public.plans, public.subscriptions, timestamptz), payments.preview_checkout(uuid, text),
public.preview_checkout(uuid, text) from public;
grant execute on function payments.create_checkout(uuid, text, text, text),
payments.attach_checkout_charge(text, text, text), payments.begin_charge(text),
payments.record_checkout_error(text, text), payments.get_payment(text, uuid),
public.create_checkout(uuid, text, text, text), public.attach_checkout_charge(text, text, text),
public.record_checkout_error(text, text), public.get_payment(text, uuid),
payments.preview_checkout(uuid, text), public.preview_checkout(uuid, text) to service_role;
