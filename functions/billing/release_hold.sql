-- Release a hold in full: the generation was cancelled, or it failed. Releasing twice returns
-- the first result; releasing a captured hold is refused; an expired hold has released itself
-- already. A failed generation (failure_reason 'generation_failed') gives the credits back like
-- any release, records the reason on the ledger entry the user reads, and answers GEN_001 in
-- `error`, which the generation server passes on to the browser as it is; the browser's next
-- read of the hold (get_hold) answers GEN_001 too.
create or replace function billing.release_hold(p_hold uuid, p_failure_reason text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_hold billing.holds;
    v_release public.credit_transactions;
    v_error public.error_codes;
begin
    if p_failure_reason is not null and p_failure_reason not in ('cancelled', 'generation_failed') then
        perform private.raise_error('VAL_006', 'failure_reason must be cancelled, generation_failed or null');
    end if;
    v_hold := billing.lock_hold(p_hold);
    if v_hold.status = 'captured' then
        perform private.raise_error('CREDIT_008', format('hold %s is already captured', v_hold.id));
    elsif v_hold.status = 'active' then
        v_release := billing.release_into_ledger(v_hold, coalesce(p_failure_reason, 'released'), v_hold.amount);
        update billing.holds set status = 'released', resolved_at = billing.clock() where id = v_hold.id;
    else
        select * into v_release from public.credit_transactions
        where hold_id = v_hold.id and transaction_type = 'release';
    end if;
    if v_release.metadata ->> 'reason' = 'generation_failed' then
        select * into v_error from public.error_codes where code = 'GEN_001';
    end if;
    return jsonb_build_object(
        'transaction_id', v_release.id,
        'hold_id', v_hold.id,
        'status', case when v_hold.status = 'expired' then 'expired' else 'released' end,
        'released', v_release.credits_amount,
        'balance', v_release.balance_after,
        'failure_reason', case when v_release.metadata ->> 'reason' in ('cancelled', 'generation_failed')
            then v_release.metadata ->> 'reason' end,
        'error', case when v_error.code is not null then jsonb_build_object(
            'code', v_error.code, 'message', v_error.message_ar,
            'details', v_error.message_en || ': the generation failed; its credits were returned'
        ) end
    );
end
$$;

-- user_id: the user the generation ran for; another user's hold is refused (CREDIT_007).
-- failure_reason: null or 'cancelled' (the user stopped it), 'generation_failed' (GEN_001).
create or replace function public.release_hold(user_id uuid, hold_id uuid, failure_reason text default null)
returns public.credit_release
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(
        null::public.credit_release, billing.release_hold(billing.hold_of(user_id, hold_id), failure_reason)
    )
$$;

revoke all on function billing.release_hold(uuid, text), public.release_hold(uuid, uuid, text) from public;
grant execute on function billing.release_hold(uuid, text), public.release_hold(uuid, uuid, text) to service_role;
