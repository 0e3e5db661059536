-- The payment a plan or credit-pack checkout answers with instead of opening a new one: the one
-- its idempotency key created (payments.replay_payment), or, for a key the service derived, the
-- identical pending checkout of moments ago (payments.recent_checkout). Null when there is none.
-- The caller holds the user's lock.
create or replace function payments.earlier_checkout(p_user uuid, p_key text, p_purpose text, p_fingerprint text)
returns public.payments
language plpgsql
stable
set search_path = ''
as $$
declare
    v_prior public.payments := payments.replay_payment(p_user, p_key, p_purpose, p_fingerprint);
begin
    if v_prior.id is null then
        v_prior := payments.recent_checkout(p_user, p_key, p_fingerprint);
    end if;
    return v_prior;
end
$$;

revoke all on function payments.earlier_checkout(uuid, text, text, text) from public;
