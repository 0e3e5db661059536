-- The write primitives of the ledger. Callers hold the user's row lock (billing.lock_user),
-- so a user's grants, holds and balance change one transaction at a time, in commit order.

-- Move the stored balance; the check constraint refuses anything below zero.
create or replace function billing.apply_balance(p_user uuid, p_delta numeric)
returns numeric
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_balance numeric;
begin
    update public.users
    set credits_balance = credits_balance + p_delta, updated_at = billing.clock()
    where id = p_user
    returning credits_balance into v_balance;
    return v_balance;
end
$$;

-- A new grant: the grant row, its opening allocation and the ledger entry, in one step.
create or replace function billing.add_grant(
    p_user uuid,
    p_source text,
    p_amount numeric,
    p_expires_at timestamptz,
    p_grant_day date,
    p_description text,
    p_key text,
    p_fingerprint text,
    p_metadata jsonb default '{}'::jsonb
)
returns public.credit_transactions
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_grant uuid := extensions.gen_random_uuid();
    v_balance numeric;
    v_tx public.credit_transactions;
begin
    insert into billing.grants (id, user_id, source, amount, remaining, effective_at, expires_at, grant_day)
    values (v_grant, p_user, p_source, p_amount, p_amount, v_now, p_expires_at, p_grant_day);
    -- The grant's expiry is one of the user's credit events (see billing.schedule_credit_events).
    update public.users
    set credits_balance = credits_balance + p_amount, updated_at = v_now,
        credits_next_event_at = least(credits_next_event_at, p_expires_at)
    where id = p_user
    returning credits_balance into v_balance;
    insert into public.credit_transactions (
        id, user_id, transaction_type, credits_amount, balance_after, description, idempotency_key,
        request_fingerprint, grant_id, metadata
    )
    values (
        billing.uuid_v7(), p_user, 'grant', p_amount, v_balance, p_description, p_key,
        p_fingerprint, v_grant, p_metadata || jsonb_build_object('source', p_source, 'expires_at', p_expires_at)
    )
    returning * into v_tx;
    insert into billing.allocations (transaction_id, grant_id, amount) values (v_tx.id, v_grant, p_amount);
    return v_tx;
end
$$;

-- Take p_amount from the user's live grants in burn-down order: the daily bonus first, then the
-- soonest expiry, then promotional before paid, then the oldest. One statement: lock the live
-- grants, take from each what the running total still needs, record one allocation per grant.
-- Returns what it could take; less than p_amount means the live grants do not cover it (the
-- caller then refuses, and the transaction's rollback undoes the partial take).
-- A grant is live from its commit until it expires. Its effective_at is not compared with
-- p_now: a grant that committed after this transaction began has a later effective_at than
-- p_now, yet the balance this transaction read counts it.
create or replace function billing.consume(p_user uuid, p_tx uuid, p_amount numeric, p_now timestamptz)
returns numeric
language plpgsql
volatile
set search_path = ''
as $$
-- PL/pgSQL rather than SQL: it caches the plan of this statement across calls.
declare
    v_first record;
    v_taken numeric;
begin
    -- Most spends fit in the first grant in burn-down order: one update. No row locks on
    -- grants: every change to a user's grants happens under that user's row lock already.
    select g.id, g.remaining into v_first
    from billing.grants as g
    where g.user_id = p_user and g.remaining > 0
        and (g.expires_at is null or g.expires_at > p_now)
    order by g.source = 'daily_bonus' desc, g.expires_at asc nulls last,
        g.source in ('monthly', 'purchase') asc, g.effective_at, g.created_at, g.id
    limit 1;
    if not found then
        return 0;
    end if;
    if v_first.remaining >= p_amount then
        update billing.grants set remaining = remaining - p_amount where id = v_first.id;
        insert into billing.allocations (transaction_id, grant_id, amount) values (p_tx, v_first.id, -p_amount);
        return p_amount;
    end if;
    with live as (
        select g.id, g.remaining, g.source, g.expires_at, g.effective_at, g.created_at
        from billing.grants as g
        where g.user_id = p_user and g.remaining > 0
            and (g.expires_at is null or g.expires_at > p_now)
    ),
    ordered as (
        select
            l.id,
            l.remaining,
            sum(l.remaining) over (
                order by l.source = 'daily_bonus' desc, l.expires_at asc nulls last,
                    l.source in ('monthly', 'purchase') asc, l.effective_at, l.created_at, l.id
                rows unbounded preceding
            ) - l.remaining as before
        from live as l
    ),
    taken as (
        update billing.grants as g
        set remaining = g.remaining - least(o.remaining, p_amount - o.before)
        from ordered as o
        where g.id = o.id and o.before < p_amount
        returning g.id, least(o.remaining, p_amount - o.before) as amount
    ),
    recorded as (
        insert into billing.allocations (transaction_id, grant_id, amount)
        select p_tx, t.id, -t.amount from taken as t
        returning -amount as amount
    )
    select coalesce(sum(r.amount), 0) into v_taken from recorded as r;
    return v_taken;
end
$$;


-- Give back what the source transactions took from each grant, in reverse burn-down order, up to
-- p_limit (all when null). Grants that have expired meanwhile get nothing back: those credits
-- would be gone already. Returns what was restored and what was forfeited that way.
-- A grant refilled here may have been expired already by a transaction with a later clock, which
-- then scheduled the user's next event past it: the refilled grant's expiry is noted again, so
-- the user's next call expires what came back instead of counting it without being able to
-- spend it.
create or replace function billing.restore(
    p_user uuid, p_tx uuid, p_sources uuid[], p_limit numeric, out restored numeric, out forfeited numeric
)
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_left numeric := p_limit;
    v_give numeric;
    v_row record;
    v_soonest timestamptz;
begin
    restored := 0;
    forfeited := 0;
    for v_row in
        select g.id, g.expires_at, taken.amount
        from (
            select a.grant_id, -sum(a.amount) as amount
            from billing.grant_movements as a
            where a.transaction_id = any(p_sources)
            group by a.grant_id
        ) as taken
        inner join billing.grants as g on taken.grant_id = g.id
        where taken.amount > 0 and g.user_id = p_user
        order by g.source = 'daily_bonus' asc, g.expires_at desc nulls first,
            g.source in ('monthly', 'purchase') desc, g.effective_at desc, g.created_at desc, g.id desc
        for update of g
    loop
        exit when v_left is not null and v_left <= 0;
        v_give := case when v_left is null then v_row.amount else least(v_row.amount, v_left) end;
        if v_row.expires_at is not null and v_row.expires_at <= v_now then
            forfeited := forfeited + v_give;
        else
            update billing.grants set remaining = remaining + v_give where id = v_row.id;
            insert into billing.allocations (transaction_id, grant_id, amount) values (p_tx, v_row.id, v_give);
            restored := restored + v_give;
            v_soonest := least(v_soonest, v_row.expires_at);
        end if;
        v_left := v_left - v_give;
    end loop;
    perform billing.note_credit_event(p_user, v_soonest);
end
$$;

revoke all on function billing.apply_balance(uuid, numeric),
billing.add_grant(uuid, text, numeric, timestamptz, date, text, text, text, jsonb),
billing.consume(uuid, uuid, numeric, timestamptz), billing.restore(uuid, uuid, uuid[], numeric) from public;
