-- The AI action flow around a hold, besides capture and release: the generation server extends
-- the hold while a long generation streams, and the browser reads the hold's state.

-- The trusted servers' calls on a hold or a ledger entry name the user it is for: a hold or an
-- entry of another user is answered as a missing one (CREDIT_007, CREDIT_011), so a server bug
-- cannot resolve or refund someone else's, and nothing tells a caller that the id exists. A
-- hold's or entry's user never changes, so the check needs no lock; the resolution then locks
-- as always (user row, then hold).
create or replace function billing.hold_of(p_user uuid, p_hold uuid)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if p_user is null then
        perform private.raise_error('CREDIT_014', 'user_id is required');
    end if;
    if p_hold is null then
        perform private.raise_error('CREDIT_007', 'hold_id is required');
    end if;
    if not exists (select from billing.holds as h where h.id = p_hold and h.user_id = p_user) then
        perform private.raise_error('CREDIT_007', format('no hold %s for user %s', p_hold, p_user));
    end if;
    return p_hold;
end
$$;

create or replace function billing.transaction_of(p_user uuid, p_transaction uuid)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    if p_user is null then
        perform private.raise_error('CREDIT_014', 'user_id is required');
    end if;
    if p_transaction is null or not exists (
        select from public.credit_transactions as t where t.id = p_transaction and t.user_id = p_user
    ) then
        perform private.raise_error(
            'CREDIT_011', format('no transaction %s for user %s', coalesce(p_transaction::text, 'null'), p_user)
        );
    end if;
    return p_transaction;
end
$$;

-- Extend an active hold to one hold_ttl from now (never shorter than it is), at most
-- billing.settings.max_hold_extensions times (CREDIT_016 after that). Trusted servers only.
create or replace function billing.extend_hold(p_user uuid, p_hold uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_settings billing.settings;
    v_hold billing.holds := billing.lock_hold(billing.hold_of(p_user, p_hold));
begin
    select * into v_settings from billing.settings;
    if v_hold.status = 'expired' then
        perform private.raise_error('CREDIT_009', format('hold %s has expired', v_hold.id));
    elsif v_hold.status <> 'active' then
        perform private.raise_error('CREDIT_008', format('hold %s is already %s', v_hold.id, v_hold.status));
    elsif v_hold.extensions >= v_settings.max_hold_extensions then
        perform private.raise_error(
            'CREDIT_016', format('hold %s was extended %s times already', v_hold.id, v_hold.extensions),
            'capture or release it'
        );
    end if;
    -- A later expiry only makes the user's next credit event (billing.credit_events) early,
    -- which the next upkeep recomputes.
    update billing.holds
    set expires_at = greatest(expires_at, billing.clock() + v_settings.hold_ttl), extensions = extensions + 1
    where id = v_hold.id
    returning * into v_hold;
    return jsonb_build_object(
        'hold_id', v_hold.id, 'expires_at', v_hold.expires_at,
        'extensions_left', v_settings.max_hold_extensions - v_hold.extensions
    );
end
$$;

-- The browser's view of one of its holds while it waits for a generation. A hold released
-- because the generation failed answers GEN_001 (its credits are back, as the summary shows).
-- A hold past its expiry is expired whether or not a sweeper got to it, as capture sees it.
create or replace function billing.get_hold(p_hold uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_user uuid := billing.require_caller();
    v_hold billing.holds;
    v_reason text;
begin
    select * into v_hold from billing.holds as h where h.id = p_hold and h.user_id = v_user;
    if not found then
        perform private.raise_error('CREDIT_007', format('no hold %s', coalesce(p_hold::text, 'null')));
    end if;
    select t.metadata ->> 'reason' into v_reason from public.credit_transactions as t
    where t.user_id = v_user and t.hold_id = v_hold.id and t.transaction_type = 'release';
    if v_hold.status = 'released' and v_reason = 'generation_failed' then
        perform private.raise_error(
            'GEN_001', format('the generation of hold %s failed; its credits were returned', v_hold.id)
        );
    end if;
    return jsonb_build_object(
        'hold_id', v_hold.id, 'action', v_hold.action, 'amount', v_hold.amount,
        'status', case when v_hold.status = 'active' and v_hold.expires_at <= billing.clock() then 'expired'
            else v_hold.status end,
        'captured_amount', v_hold.captured_amount, 'expires_at', v_hold.expires_at
    );
end
$$;

create or replace function public.extend_hold(user_id uuid, hold_id uuid)
returns public.hold_extension
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.hold_extension, billing.extend_hold(user_id, hold_id))
$$;

create or replace function public.get_hold(hold_id uuid)
returns public.hold_state
language sql
stable
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.hold_state, billing.get_hold(hold_id))
$$;

revoke all on function billing.hold_of(uuid, uuid), billing.transaction_of(uuid, uuid), billing.extend_hold(uuid, uuid),
billing.get_hold(uuid), public.extend_hold(uuid, uuid), public.get_hold(uuid) from public;
grant execute on function billing.hold_of(uuid, uuid), billing.transaction_of(uuid, uuid),
billing.extend_hold(uuid, uuid), public.extend_hold(uuid, uuid) to service_role;
grant execute on function billing.get_hold(uuid), public.get_hold(uuid) to authenticated;
