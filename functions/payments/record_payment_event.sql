-- Provider notifications (UPayments webhooks), recorded once each and applied in the same
-- transaction. The caller (the billing service) has verified the webhook's signature and asked
-- UPayments for the payment's status (get-payment-status/{track_id}); p_verified is that answer:
-- {"result", "track_id", "order_id", "payment_id", "amount", "currency"}. Only that answer moves
-- money: what the webhook itself claims (p_notified_result) is recorded, and compared, never
-- trusted. p_verified may be null only when the payment is already settled (then nothing
-- could change and the service spares UPayments' rate-limited status endpoint).
--
-- The event's identity is the track id and the result the webhook announced. A redelivery of a
-- final event changes nothing at all; a non-final one (the status did not settle the payment
-- yet) is processed again.

-- What the service needs to know before spending a status call: is this event already final,
-- and is the payment known and settled? Reads only.
create or replace function payments.lookup_payment_event(
    p_provider text, p_track_id text, p_result text, p_order_id text
)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_event payments.provider_events;
    v_payment public.payments;
begin
    select * into v_event from payments.provider_events as e
    where e.provider = p_provider
        and e.event_key = p_track_id || ':' || upper(btrim(coalesce(p_result, '')));
    select * into v_payment from public.payments as p where p.track_id = p_track_id;
    if not found and p_order_id is not null then
        select * into v_payment from public.payments as p where p.order_id = p_order_id;
    end if;
    return jsonb_build_object(
        'event_final', coalesce(v_event.final, false),
        'event_outcome', v_event.outcome,
        'payment_known', v_payment.id is not null,
        'order_id', v_payment.order_id,
        'payment_status', v_payment.status
    );
end
$$;

-- What a status answer (get-payment-status for p_track_id) means for a payment the caller has
-- locked. Money UPayments reports captured is always recorded: as paid (fulfilled, or
-- needs_review when it cannot be applied as bought) when it matches the order, as needs_review
-- when the amount or currency differs; whatever the payment's status was, cancelled or failed
-- included. A failure or cancel closes a pending payment only when p_may_close; a result that
-- settles nothing closes it (abandoned) only when p_abandon. Outcomes: applied, needs_review,
-- failed, cancelled, refunded (UPayments refunded or voided a captured payment: what it
-- delivered is taken back), late (already settled, nothing changed), mismatch (the answer is
-- not about this order and track), pending (nothing settled).
create or replace function payments.apply_status(
    p_payment public.payments, p_track_id text, p_verified jsonb, p_may_close boolean, p_abandon boolean,
    out payment public.payments, out outcome text
)
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_class text := payments.result_class(p_verified ->> 'result');
    v_amount numeric;
    v_currency text := left(upper(btrim(p_verified ->> 'currency')), 10);
begin
    payment := p_payment;
    if (p_verified ->> 'amount') ~ '^[0-9]{1,7}(\.[0-9]{1,6})?$' then
        v_amount := (p_verified ->> 'amount')::numeric;
    end if;
    -- The answer must be about this track and this order, and the payment must not already
    -- belong to another charge.
    if coalesce(p_verified ->> 'track_id', p_track_id) <> p_track_id
        or p_verified ->> 'order_id' is distinct from p_payment.order_id
        or (p_payment.track_id is not null and p_payment.track_id <> p_track_id) then
        outcome := 'mismatch';
    elsif v_class = 'captured' then
        if p_payment.status in ('paid', 'refunded', 'needs_review') then
            outcome := 'late';
        elsif v_amount is distinct from p_payment.amount_kwd or v_currency is distinct from p_payment.currency then
            update public.payments
            set status = 'needs_review', paid_at = v_now, closed_at = null, updated_at = v_now,
                captured_amount_kwd = round(v_amount, 3), captured_currency = v_currency,
                status_reason = left(format('UPayments captured %s %s for an order of %s %s',
                    coalesce(p_verified ->> 'amount', 'an unknown amount'), coalesce(v_currency, '(no currency)'),
                    p_payment.amount_kwd, p_payment.currency), 500),
                track_id = coalesce(track_id, p_track_id),
                provider_payment_id = coalesce(left(p_verified ->> 'payment_id', 255), provider_payment_id)
            where id = p_payment.id
            returning * into payment;
            outcome := 'needs_review';
        else
            payment := payments.fulfil(p_payment, p_track_id, p_verified ->> 'payment_id');
            outcome := case payment.fulfilment when 'fulfilled' then 'applied' else 'needs_review' end;
        end if;
    elsif v_class = 'refunded' and p_payment.status in ('paid', 'needs_review') then
        perform payments.record_provider_refund(p_payment, p_verified ->> 'result');
        select * into payment from public.payments as p where p.id = p_payment.id;
        outcome := 'refunded';
    elsif p_payment.status <> 'pending' then
        outcome := 'late';
    elsif (v_class in ('failed', 'cancelled', 'refunded') and p_may_close) or p_abandon then
        update public.payments
        set status = case when v_class = 'failed' then 'failed' else 'cancelled' end,
            closed_at = v_now, updated_at = v_now,
            status_reason = left(case when v_class in ('failed', 'cancelled', 'refunded')
                then 'UPayments: ' || (p_verified ->> 'result')
                else 'abandoned: not captured within the checkout time limit (UPayments: '
                    || coalesce(p_verified ->> 'result', 'no result') || ')' end, 500),
            track_id = coalesce(track_id, p_track_id),
            provider_payment_id = coalesce(left(p_verified ->> 'payment_id', 255), provider_payment_id)
        where id = p_payment.id
        returning * into payment;
        outcome := payment.status;
    else
        outcome := 'pending';
    end if;
end
$$;

create or replace function payments.record_payment_event(
    p_provider text, p_track_id text, p_notified_result text, p_verified jsonb, p_payload jsonb
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_key text;
    v_order_id text;
    v_payment public.payments;
    v_event payments.provider_events;
    v_existing boolean;
    v_notified text := payments.result_class(p_notified_result);
    v_outcome text;
    v_applied record;
    v_final boolean;
    v_disagrees boolean := false;
begin
    if p_provider is null or p_provider <> 'upayments' then
        perform private.raise_error('VAL_001', 'provider must be upayments');
    end if;
    perform payments.require_track_id(p_track_id);
    if char_length(p_notified_result) > 50 then
        perform private.raise_error('VAL_001', 'result must be at most 50 characters');
    end if;
    if p_verified is not null and jsonb_typeof(p_verified) <> 'object' then
        perform private.raise_error('VAL_001', 'verified must be a JSON object or null');
    end if;
    if p_payload is not null and (jsonb_typeof(p_payload) <> 'object' or octet_length(p_payload::text) > 16384) then
        perform private.raise_error('VAL_001', 'payload must be a JSON object of at most 16 KiB');
    end if;
    v_key := p_track_id || ':' || upper(btrim(coalesce(p_notified_result, '')));

    -- The payment: by its track id, else by the order id UPayments itself reported for the track.
    select p.order_id into v_order_id from public.payments as p where p.track_id = p_track_id;
    if not found then
        select p.order_id into v_order_id from public.payments as p where p.order_id = p_verified ->> 'order_id';
        if not found then
            perform private.raise_error('PAY_002', format('no payment for track id %s', p_track_id));
        end if;
    end if;
    v_payment := payments.lock_payment(v_order_id);

    select * into v_event from payments.provider_events as e
    where e.provider = p_provider and e.event_key = v_key
    for update;
    v_existing := found;
    if v_existing and v_event.final then
        return jsonb_build_object(
            'event_id', v_event.id, 'duplicate', true, 'outcome', v_event.outcome, 'final', true,
            'status_disagrees', v_event.status_disagrees, 'payment', payments.payment_json(v_payment)
        );
    end if;

    if p_verified is null then
        if v_payment.status not in ('paid', 'refunded', 'needs_review') then
            perform private.raise_error(
                'VAL_001', 'a status check is required for a payment that is not settled',
                'ask get-payment-status for the track id and pass its answer'
            );
        end if;
        v_outcome := 'late';
    else
        v_disagrees := v_notified is not null
            and v_notified is distinct from payments.result_class(p_verified ->> 'result');
        -- A payment is closed unpaid only when the webhook and the status agree; a capture the
        -- status confirms is recorded whatever the webhook said.
        select * into v_applied from payments.apply_status(v_payment, p_track_id, p_verified, not v_disagrees, false);
        v_payment := v_applied.payment;
        v_outcome := v_applied.outcome;
    end if;
    -- Final only when webhook and status agree on a settled result: anything else is checked
    -- again on the next delivery (and by the reconciliation job).
    v_final := v_outcome not in ('pending', 'mismatch') and not v_disagrees;

    if v_existing then
        update payments.provider_events
        set notified_result = p_notified_result, verified_result = p_verified ->> 'result', outcome = v_outcome,
            status_disagrees = v_disagrees, final = v_final, deliveries = deliveries + 1,
            payload = coalesce(p_payload, '{}'::jsonb), status_payload = p_verified, payment_id = v_payment.id,
            processed_at = v_now
        where id = v_event.id
        returning * into v_event;
    else
        insert into payments.provider_events (
            provider, event_key, track_id, payment_id, notified_result, verified_result, outcome, status_disagrees,
            final, payload, status_payload, received_at, processed_at
        )
        values (
            p_provider, v_key, p_track_id, v_payment.id, p_notified_result, p_verified ->> 'result', v_outcome,
            v_disagrees, v_final, coalesce(p_payload, '{}'::jsonb), p_verified, v_now, v_now
        )
        returning * into v_event;
    end if;
    return jsonb_build_object(
        'event_id', v_event.id, 'duplicate', false, 'outcome', v_event.outcome, 'final', v_event.final,
        'status_disagrees', v_event.status_disagrees, 'payment', payments.payment_json(v_payment)
    );
end
$$;

create or replace function public.lookup_payment_event(provider text, track_id text, result text, order_id text)
returns public.payment_event_lookup
language sql
stable
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.payment_event_lookup, payments.lookup_payment_event(provider, track_id, result, order_id))
$$;

create or replace function public.record_payment_event(
    provider text, track_id text, notified_result text, verified jsonb, payload jsonb
)
returns public.payment_event_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.payment_event_result, payments.record_payment_event(provider, track_id, notified_result, verified, payload))
$$;

revoke all on function payments.apply_status(public.payments, text, jsonb, boolean, boolean) from public;
revoke all on function payments.lookup_payment_event(text, text, text, text),
payments.record_payment_event(text, text, text, jsonb, jsonb),
public.lookup_payment_event(text, text, text, text),
public.record_payment_event(text, text, text, jsonb, jsonb) from public;
grant execute on function payments.lookup_payment_event(text, text, text, text),
payments.record_payment_event(text, text, text, jsonb, jsonb),
public.lookup_payment_event(text, text, text, text),
public.record_payment_event(text, text, text, jsonb, jsonb) to service_role;
