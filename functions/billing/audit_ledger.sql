-- The ledger audit behind `kwq8 ledger audit`: one row per violated invariant, none when the
-- books balance. For every user: stored balance = sum of remaining grants = sum of the ledger
-- = the last entry's balance_after, and every entry's balance_after follows from the one
-- before; every grant's remaining = the sum of its movements (billing.grant_movements) and
-- stays within 0..amount; every entry moves exactly what its movements say and names only its
-- own user and grants; holds resolve at most once and their entries agree with their status;
-- the user's next credit event is not later than anything that expires.
create or replace function billing.audit_ledger()
returns table (user_id uuid, problem text, detail text)
language sql
stable
security definer
set search_path = ''
as $$
    with ledger as (
        select
            t.*,
            coalesce(lag(t.balance_after) over (partition by t.user_id order by t.seq), 0) as balance_before
        from public.credit_transactions as t
    ),
    per_user as (
        select
            u.id,
            u.credits_balance,
            (select coalesce(sum(g.remaining), 0) from billing.grants as g where g.user_id = u.id) as grants_total,
            (select coalesce(sum(t.credits_amount), 0) from public.credit_transactions as t where t.user_id = u.id)
                as ledger_total,
            (select t.balance_after from public.credit_transactions as t where t.user_id = u.id
                order by t.seq desc limit 1) as last_balance
        from public.users as u
    )
    select p.id, 'balance_vs_grants', format('balance %s, remaining grants %s', p.credits_balance, p.grants_total)
    from per_user as p where p.credits_balance <> p.grants_total
    union all
    select p.id, 'balance_vs_ledger', format('balance %s, ledger sum %s', p.credits_balance, p.ledger_total)
    from per_user as p where p.credits_balance <> p.ledger_total
    union all
    select p.id, 'balance_vs_last_entry', format('balance %s, last balance_after %s', p.credits_balance, p.last_balance)
    from per_user as p where p.last_balance is not null and p.credits_balance <> p.last_balance
    union all
    select l.user_id, 'running_balance', format('entry %s: %s %s -> %s', l.id, l.balance_before, l.credits_amount,
        l.balance_after)
    from ledger as l where l.balance_before + l.credits_amount <> l.balance_after
    union all
    select g.user_id, 'grant_vs_allocations', format('grant %s: remaining %s, allocations %s', g.id, g.remaining,
        coalesce(a.total, 0))
    from billing.grants as g
    left join (select a2.grant_id, sum(a2.amount) as total from billing.grant_movements as a2 group by a2.grant_id) as a
        on g.id = a.grant_id
    where g.remaining <> coalesce(a.total, 0) or g.remaining < 0 or g.remaining > g.amount
    union all
    select t.user_id, 'entry_vs_allocations', format('entry %s (%s): moved %s, allocations %s', t.id,
        t.transaction_type, t.credits_amount, coalesce(a.total, 0))
    from public.credit_transactions as t
    left join (
        select a2.transaction_id, sum(a2.amount) as total from billing.grant_movements as a2
        group by a2.transaction_id
    ) as a on t.id = a.transaction_id
    where t.credits_amount <> coalesce(a.total, 0)
    union all
    select t.user_id, 'dangling_reference', format('entry %s names a missing %s', t.id,
        case when u.id is null then 'user' else 'grant ' || t.grant_id end)
    from public.credit_transactions as t
    left join public.users as u on t.user_id = u.id
    left join billing.grants as g on t.grant_id = g.id
    where u.id is null or (t.grant_id is not null and (g.id is null or g.user_id <> t.user_id))
    union all
    select h.user_id, 'hold_entries', format('hold %s (%s): %s hold, %s capture, %s release entries', h.id, h.status,
        e.holds, e.captures, e.releases)
    from billing.holds as h
    left join lateral (
        select
            count(*) filter (where t.transaction_type = 'hold') as holds,
            count(*) filter (where t.transaction_type = 'capture') as captures,
            count(*) filter (where t.transaction_type = 'release') as releases,
            coalesce(-sum(t.credits_amount) filter (where t.transaction_type = 'hold'), 0) as held
        from public.credit_transactions as t where t.hold_id = h.id
    ) as e on true
    where e.holds <> 1
        or e.held <> h.amount
        or (h.status = 'active' and (e.captures <> 0 or e.releases <> 0))
        or (h.status = 'captured' and (e.captures <> 1 or e.releases > 1))
        or (h.status in ('released', 'expired') and (e.captures <> 0 or e.releases <> 1))
    union all
    -- The spend fast path trusts credits_next_event_at: it must not be later than the expiry of
    -- any grant with credits left or any active hold (docs/credits.md, Time model).
    select u.id, 'late_schedule', format('next event %s, but credits expire at %s', u.credits_next_event_at, d.due)
    from public.users as u
    cross join lateral (
        select least(
            (select min(g.expires_at) from billing.grants as g where g.user_id = u.id and g.remaining > 0),
            (select min(h.expires_at) from billing.holds as h where h.user_id = u.id and h.status = 'active')
        ) as due
    ) as d
    where d.due is not null and (u.credits_next_event_at is null or u.credits_next_event_at > d.due)
$$;

revoke all on function billing.audit_ledger() from public;
grant execute on function billing.audit_ledger() to service_role;
