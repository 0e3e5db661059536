-- What every checkout (plans, credit packs, domain registrations and renewals) checks before
-- it locks anything: an idempotency key, the buying user, and a payment method UPayments takes
-- (K-Net or card; null lets the buyer choose on UPayments' page).
create or replace function payments.require_checkout_request(
    p_user uuid, p_key text, p_payment_method text default null
)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
    perform billing.require_key(p_key);
    if p_user is null then
        perform private.raise_error('CREDIT_014', 'user_id is required');
    end if;
    if p_payment_method is not null and p_payment_method not in ('knet', 'cc') then
        perform private.raise_error('VAL_001', 'payment_method must be knet, cc or null');
    end if;
end
$$;

revoke all on function payments.require_checkout_request(uuid, text, text) from public;
