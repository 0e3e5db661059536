-- Release a hold in full (a generation was cancelled). Releasing twice returns the first
-- result; releasing a captured hold is refused; an expired hold has released itself already.
create or replace function billing.release(p_hold uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_hold billing.holds := billing.lock_hold(p_hold);
    v_release public.credit_transactions;
begin
    if v_hold.status = 'captured' then
        perform private.raise_error('CREDIT_008', format('hold %s is already captured', v_hold.id));
    elsif v_hold.status = 'active' then
        v_release := billing.release_into_ledger(v_hold, 'released', v_hold.amount);
        update billing.holds set status = 'released', resolved_at = billing.clock() where id = v_hold.id;
    else
        select * into v_release from public.credit_transactions
        where hold_id = v_hold.id and transaction_type = 'release';
    end if;
    return jsonb_build_object(
        'transaction_id', v_release.id,
        'hold_id', v_hold.id,
        'status', case when v_hold.status = 'expired' then 'expired' else 'released' end,
        'released', v_release.credits_amount,
        'balance', v_release.balance_after
    );
end
$$;

-- user_id: the user the generation ran for; another user's hold is refused (CREDIT_007).
create or replace function public.release_hold(user_id uuid, hold_id uuid)
returns jsonb
language sql
volatile
set search_path = ''
as $$
    select billing.release(billing.hold_of(user_id, hold_id))
$$;

revoke all on function billing.release(uuid), public.release_hold(uuid, uuid) from public;
grant execute on function billing.release(uuid), public.release_hold(uuid, uuid) to service_role;
