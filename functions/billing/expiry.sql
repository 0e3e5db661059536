-- Expiry of holds and grants for one user whose row lock the caller holds. Both run lazily on
-- every access (billing.lock_user) and from the sweepers, for users who are idle.

-- Expired holds release by themselves: their credits go back to the grants they came from.
create or replace function billing.expire_user_holds(p_user uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_hold billing.holds;
    v_count integer := 0;
begin
    for v_hold in
        select * from billing.holds
        where user_id = p_user and status = 'active' and expires_at <= v_now
        order by id
        for update
    loop
        perform billing.release_into_ledger(v_hold, 'expired', v_hold.amount);
        update billing.holds set status = 'expired', resolved_at = v_now where id = v_hold.id;
        v_count := v_count + 1;
    end loop;
    return v_count;
end
$$;

-- Grants past their expiry lose what remains, with an 'expire' ledger entry each.
create or replace function billing.expire_user_grants(p_user uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_grant billing.grants;
    v_tx uuid;
    v_count integer := 0;
begin
    for v_grant in
        select * from billing.grants
        where user_id = p_user and remaining > 0 and expires_at <= v_now
        order by id
        for update
    loop
        v_tx := billing.uuid_v7();
        update billing.grants set remaining = 0 where id = v_grant.id;
        insert into billing.allocations (transaction_id, grant_id, amount) values (v_tx, v_grant.id, -v_grant.remaining);
        insert into public.credit_transactions (
            id, user_id, transaction_type, credits_amount, balance_after, description, grant_id, metadata
        )
        values (
            v_tx, p_user, 'expire', -v_grant.remaining, billing.apply_balance(p_user, -v_grant.remaining),
            'Credits expired', v_grant.id, jsonb_build_object('source', v_grant.source, 'expired_at', v_grant.expires_at)
        );
        v_count := v_count + 1;
    end loop;
    return v_count;
end
$$;

-- End a user's live grants of one source at p_at (when a subscription ends, its monthly credits
-- stop rolling over), writing the usual expire entries for what is gone by now. The caller
-- holds the user's row lock.
create or replace function billing.end_grants_of_source(p_user uuid, p_source text, p_at timestamptz)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
begin
    perform billing.expire_user_holds(p_user);  -- released holds hand credits back first
    perform billing.note_credit_event(p_user, p_at);
    update billing.grants as g
    set expires_at = greatest(p_at, g.effective_at + interval '1 microsecond')
    where g.user_id = p_user
        and g.source = p_source
        and g.remaining > 0
        and (g.expires_at is null or g.expires_at > greatest(p_at, g.effective_at + interval '1 microsecond'));
    return billing.expire_user_grants(p_user);
end
$$;

-- Give a hold's credits (up to p_amount of them) back and write the release entry.
create or replace function billing.release_into_ledger(p_hold billing.holds, p_reason text, p_amount numeric)
returns public.credit_transactions
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_tx uuid := billing.uuid_v7();
    v_result record;
    v_row public.credit_transactions;
begin
    select * into v_result from billing.restore(
        p_hold.user_id, v_tx,
        array(
            select t.id from public.credit_transactions as t
            where t.hold_id = p_hold.id and t.transaction_type = 'hold'
        ),
        p_amount
    );
    insert into public.credit_transactions (
        id, user_id, transaction_type, credits_amount, balance_after, description, action, hold_id, metadata
    )
    values (
        v_tx, p_hold.user_id, 'release', v_result.restored,
        billing.apply_balance(p_hold.user_id, v_result.restored),
        'Hold released (' || p_reason || ')', p_hold.action, p_hold.id,
        jsonb_build_object('reason', p_reason, 'forfeited', v_result.forfeited)
    )
    returning * into v_row;
    return v_row;
end
$$;

revoke all on function billing.expire_user_holds(uuid), billing.expire_user_grants(uuid),
billing.end_grants_of_source(uuid, text, timestamptz),
billing.release_into_ledger(billing.holds, text, numeric) from public;
