-- The ledger entry an idempotency key already wrote, for every ledger write (spends, grants,
-- holds, refunds): null for a new key, the entry for a retry of the same request, CREDIT_005
-- when the key was used for another request. Callers hold the user's row lock, so the answer
-- cannot change before they write.
create or replace function billing.replay_entry(p_user uuid, p_key text, p_type text, p_fingerprint text)
returns public.credit_transactions
language plpgsql
stable
set search_path = ''
as $$
declare
    v_prior public.credit_transactions;
begin
    select * into v_prior from public.credit_transactions where user_id = p_user and idempotency_key = p_key;
    if found and (v_prior.transaction_type <> p_type or v_prior.request_fingerprint <> p_fingerprint) then
        perform private.raise_error('CREDIT_005', format('key %s was used for another request', p_key));
    end if;
    return v_prior;
end
$$;

revoke all on function billing.replay_entry(uuid, text, text, text) from public;
