-- Resolving holds (trusted servers only). A hold resolves at most once: a retry of the same
-- resolution returns the first result; a different one is refused (CREDIT_008), and an
-- expired hold can no longer be captured (CREDIT_009) because it released itself.

-- The hold's owner, then the row lock on that user, then the hold: the same lock order as
-- every other credit operation.
create or replace function billing.lock_hold(p_hold uuid)
returns billing.holds
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_user uuid;
    v_hold billing.holds;
begin
    if p_hold is null then
        perform private.raise_error('CREDIT_007', 'hold_id is required');
    end if;
    select h.user_id into v_user from billing.holds as h where h.id = p_hold;
    if not found then
        perform private.raise_error('CREDIT_007', format('no hold %s', p_hold));
    end if;
    perform billing.lock_user(v_user, billing.clock());
    select * into v_hold from billing.holds where id = p_hold for update;
    return v_hold;
end
$$;

create or replace function billing.capture_hold(p_hold uuid, p_amount numeric)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_hold billing.holds := billing.lock_hold(p_hold);
    v_amount numeric;
    v_release public.credit_transactions;
    v_capture public.credit_transactions;
    v_released numeric := 0;
begin
    v_amount := coalesce(p_amount, v_hold.amount);
    if v_amount is distinct from 'NaN'::numeric and v_amount > v_hold.amount then
        perform private.raise_error('CREDIT_010', format('cannot capture %s from a hold of %s', v_amount, v_hold.amount));
    end if;
    v_amount := billing.require_amount(v_amount, v_hold.amount, true);
    if v_hold.status = 'captured' and v_hold.captured_amount = v_amount then
        select * into v_capture from public.credit_transactions
        where hold_id = v_hold.id and transaction_type = 'capture';
        return jsonb_build_object(
            'transaction_id', v_capture.id, 'hold_id', v_hold.id, 'charged', v_hold.captured_amount,
            'released', (v_capture.metadata ->> 'released')::numeric, 'balance', v_capture.balance_after
        );
    elsif v_hold.status = 'expired' or (v_hold.status = 'active' and v_hold.expires_at <= billing.clock()) then
        -- Checked here too: a hold past its expiry is dead whether or not a sweeper got to it.
        perform private.raise_error('CREDIT_009', format('hold %s expired at %s', v_hold.id, v_hold.expires_at));
    elsif v_hold.status <> 'active' then
        perform private.raise_error('CREDIT_008', format('hold %s is already %s', v_hold.id, v_hold.status));
    end if;
    if v_amount < v_hold.amount then
        v_release := billing.release_into_ledger(v_hold, 'capture remainder', v_hold.amount - v_amount);
        v_released := v_release.credits_amount;
    end if;
    update billing.holds
    set status = 'captured', captured_amount = v_amount, resolved_at = billing.clock()
    where id = v_hold.id;
    insert into public.credit_transactions (
        user_id, transaction_type, credits_amount, balance_after, description, action, hold_id, metadata
    )
    values (
        v_hold.user_id, 'capture', 0, (select u.credits_balance from public.users as u where u.id = v_hold.user_id),
        'Hold captured', v_hold.action, v_hold.id,
        jsonb_build_object('charged', v_amount, 'released', v_released, 'held', v_hold.amount)
    )
    returning * into v_capture;
    return jsonb_build_object(
        'transaction_id', v_capture.id, 'hold_id', v_hold.id, 'charged', v_amount, 'released', v_released,
        'balance', v_capture.balance_after
    );
end
$$;

-- user_id: the user the generation ran for; another user's hold is refused (CREDIT_007).
create or replace function public.capture_hold(user_id uuid, hold_id uuid, amount numeric default null)
returns public.credit_capture
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(
        null::public.credit_capture, billing.capture_hold(billing.hold_of(user_id, hold_id), amount)
    )
$$;

revoke all on function billing.lock_hold(uuid) from public;
revoke all on function billing.capture_hold(uuid, numeric), public.capture_hold(uuid, uuid, numeric) from public;
grant execute on function billing.capture_hold(uuid, numeric), public.capture_hold(uuid, uuid, numeric) to service_role;
