-- One-off credit packs (trusted servers only), bought through the same checkout as plans: a
-- pending payment of purpose and kind 'credit_pack' at the pack's price, charged and confirmed exactly like a
-- plan's. Confirming it grants the pack's credits as 'purchase' credits under the payment's key
-- ('payment:<order_id>'), expiring the pack's validity after confirmation; the subscription is
-- not touched. A refund takes back what is left of them (payments.take_back).
create or replace function payments.create_pack_checkout(p_user uuid, p_pack text, p_payment_method text, p_key text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_pack public.credit_packs;
    v_prior public.payments;
    v_payment public.payments;
    v_fingerprint text;
begin
    perform payments.require_checkout_request(p_user, p_key, p_payment_method);
    select * into v_pack from public.credit_packs as p where p.code = p_pack and p.active;
    if not found then
        perform private.raise_error('VAL_001', format('unknown or inactive credit pack %s', coalesce(p_pack, 'null')));
    end if;
    v_fingerprint := billing.fingerprint(
        'pack_checkout', jsonb_build_object('credit_pack', p_pack, 'payment_method', p_payment_method)
    );
    perform billing.lock_user(p_user, v_now);
    v_prior := payments.earlier_checkout(p_user, p_key, 'credit_pack', v_fingerprint);
    if v_prior.id is not null then
        return payments.payment_json(v_prior) || jsonb_build_object('replay', true);
    end if;
    insert into public.payments (
        order_id, user_id, credit_pack, purpose, kind, amount_kwd, payment_method, idempotency_key,
        request_fingerprint, created_at, updated_at
    )
    values (
        'kwq8_' || replace(extensions.gen_random_uuid()::text, '-', ''), p_user, v_pack.code, 'credit_pack',
        'credit_pack', v_pack.price_kwd, p_payment_method, p_key, v_fingerprint, v_now, v_now
    )
    returning * into v_payment;
    return payments.payment_json(v_payment) || jsonb_build_object('replay', false);
end
$$;

-- Fulfil a credit-pack payment (from payments.fulfil; the caller holds the user's and the
-- payment's locks). As for plans, money received is recorded as paid even when the grant fails:
-- the payment is then 'needs_review'.
create or replace function payments.fulfil_pack(p_payment public.payments, p_track_id text, p_provider_payment_id text)
returns public.payments
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_pack public.credit_packs;
    v_review text;
    v_result public.payments;
begin
    select * into strict v_pack from public.credit_packs as p where p.code = p_payment.credit_pack;
    begin
        perform billing.grant_credits(
            p_payment.user_id, v_pack.credits, 'purchase', v_now + v_pack.validity, 'payment:' || p_payment.order_id,
            format('Credit pack: %s', v_pack.name_en)
        );
    exception
        when serialization_failure or deadlock_detected or lock_not_available then
            raise;
        when others then
            v_review := left('fulfilment failed: ' || sqlerrm, 500);
    end;
    update public.payments
    set status = 'paid', paid_at = v_now, closed_at = null, status_reason = v_review,
        fulfilment = case when v_review is null then 'fulfilled' else 'needs_review' end,
        credits_granted = case when v_review is null then v_pack.credits else 0 end,
        captured_amount_kwd = p_payment.amount_kwd, captured_currency = p_payment.currency,
        track_id = coalesce(track_id, p_track_id),
        provider_payment_id = coalesce(left(p_provider_payment_id, 255), provider_payment_id),
        updated_at = v_now
    where id = p_payment.id
    returning * into v_result;
    return v_result;
end
$$;

create or replace function public.create_pack_checkout(
    user_id uuid, credit_pack text, payment_method text, idempotency_key text
)
returns public.payment_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.payment_result, payments.create_pack_checkout(user_id, credit_pack, payment_method, idempotency_key))
$$;

revoke all on function payments.create_pack_checkout(uuid, text, text, text),
payments.fulfil_pack(public.payments, text, text), public.create_pack_checkout(uuid, text, text, text) from public;
grant execute on function payments.create_pack_checkout(uuid, text, text, text),
public.create_pack_checkout(uuid, text, text, text) to service_role;
