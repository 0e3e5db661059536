-- Helpers shared by the payment functions: period arithmetic, locking, the JSON a payment is
-- reported as, and how provider results are classified.

-- Calendar arithmetic in the business time zone (Asia/Kuwait), so that "one month after" means
-- the same instant whatever time zone a session runs in.
create or replace function payments.add_period(p_at timestamptz, p_period interval)
returns timestamptz
language sql
stable
set search_path = ''
as $$
    select ((p_at at time zone s.business_time_zone) + p_period) at time zone s.business_time_zone
    from billing.settings as s
$$;

-- The end of the period after p_end for a subscription anchored at p_anchor: the first
-- p_anchor + k periods later than p_end, so that month ends never drift (Jan 31, Feb 28, Mar 31).
create or replace function payments.next_period_end(p_anchor timestamptz, p_end timestamptz, p_period interval)
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
declare
    v_periods integer := 1;
    v_end timestamptz := payments.add_period(p_anchor, p_period);
begin
    while v_end <= p_end loop
        v_periods := v_periods + 1;
        if v_periods > 100000 then
            raise exception 'no period end after % from anchor %', p_end, p_anchor;
        end if;
        v_end := payments.add_period(p_anchor, p_period * v_periods);
    end loop;
    return v_end;
end
$$;

-- Lock a payment for a change, the user's row first (the lock order of every credit and payment
-- write: users, then payments, then subscriptions). Returns the row as it is under the lock.
create or replace function payments.lock_payment(p_order_id text)
returns public.payments
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_user uuid;
    v_payment public.payments;
begin
    if p_order_id is null or char_length(p_order_id) > 40 then
        perform private.raise_error('PAY_002', 'order_id must be an order id of at most 40 characters');
    end if;
    select p.user_id into v_user from public.payments as p where p.order_id = p_order_id;
    if not found then
        perform private.raise_error('PAY_002', format('no payment with order id %s', p_order_id));
    end if;
    perform billing.lock_user(v_user, billing.clock());
    select * into v_payment from public.payments where order_id = p_order_id for update;
    return v_payment;
end
$$;

-- What callers get back about a payment. Amounts keep their three decimals.
create or replace function payments.payment_json(p_payment public.payments)
returns jsonb
language sql
immutable
set search_path = ''
as $$
    select jsonb_build_object(
        'payment_id', p_payment.id,
        'order_id', p_payment.order_id,
        'user_id', p_payment.user_id,
        'purpose', p_payment.purpose,
        'plan', p_payment.plan,
        'kind', p_payment.kind,
        'amount_kwd', p_payment.amount_kwd,
        'currency', p_payment.currency,
        'payment_method', p_payment.payment_method,
        'status', p_payment.status,
        'status_reason', p_payment.status_reason,
        'fulfilment', p_payment.fulfilment,
        'credits_granted', p_payment.credits_granted,
        'proration', p_payment.proration,
        'track_id', p_payment.track_id,
        'payment_url', p_payment.payment_url,
        'created_at', p_payment.created_at,
        'paid_at', p_payment.paid_at,
        'closed_at', p_payment.closed_at
    )
$$;

-- UPayments result vocabulary (payments_domains.md §1.5, K-Net's own words): only CAPTURED is
-- money received; declines and errors are failures; both spellings of cancelled are cancels;
-- REFUND and VOIDED mean the money went back; anything else (PENDING, INITIATED, AUTHORIZED,
-- unknown) settles nothing yet.
create or replace function payments.result_class(p_result text)
returns text
language sql
immutable
set search_path = ''
as $$
    select case upper(btrim(coalesce(p_result, '')))
        when 'CAPTURED' then 'captured'
        when 'NOT CAPTURED' then 'failed'
        when 'NOT_CAPTURED' then 'failed'
        when 'FAILED' then 'failed'
        when 'FAILURE' then 'failed'
        when 'ERROR' then 'failed'
        when 'DECLINED' then 'failed'
        when 'DENIED BY RISK' then 'failed'
        when 'HOST TIMEOUT' then 'failed'
        when 'CANCELED' then 'cancelled'
        when 'CANCELLED' then 'cancelled'
        when 'REFUND' then 'refunded'
        when 'REFUNDED' then 'refunded'
        when 'VOIDED' then 'refunded'
        when 'VOID' then 'refunded'
        when '' then null
        else 'pending'
    end
$$;

revoke all on function payments.add_period(timestamptz, interval), payments.lock_payment(text),
payments.next_period_end(timestamptz, timestamptz, interval),
payments.payment_json(public.payments), payments.result_class(text) from public;
