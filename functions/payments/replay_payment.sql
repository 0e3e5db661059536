-- The payment an idempotency key already created, for every checkout (plans, credit packs,
-- domains): null for a new key, the payment for a retry of the same checkout, CREDIT_005 when
-- the key was used for another one. Callers hold the user's row lock.
create or replace function payments.replay_payment(p_user uuid, p_key text, p_purpose text, p_fingerprint text)
returns public.payments
language plpgsql
stable
set search_path = ''
as $$
declare
    v_prior public.payments;
begin
    select * into v_prior from public.payments as p where p.user_id = p_user and p.idempotency_key = p_key;
    if found and (v_prior.purpose <> p_purpose or v_prior.request_fingerprint <> p_fingerprint) then
        perform private.raise_error('CREDIT_005', format('key %s was used for another checkout', p_key));
    end if;
    return v_prior;
end
$$;

revoke all on function payments.replay_payment(uuid, text, text, text) from public;
