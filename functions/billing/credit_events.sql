-- users.credits_next_event_at: when the user's credits next change by themselves. Every spend
-- compares it with the clock instead of probing holds, grants and the daily bonus; these keep
-- it from ever being later than the real next event.

-- After upkeep (billing.lock_user): the soonest of the next grant expiry, the next hold expiry,
-- for an active subscriber the next Kuwait midnight (a new day's bonus), and the end of the
-- subscription's grace window; null when there is none. Grants count whatever their remaining
-- credits, so a release or refund that refills a spent grant cannot make the stored time late.
create or replace function billing.schedule_credit_events(p_user uuid, p_now timestamptz)
returns timestamptz
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_next timestamptz;
begin
    update public.users as u
    set credits_next_event_at = least(
        (select min(g.expires_at) from billing.grants as g where g.user_id = p_user and g.expires_at > p_now),
        (select min(h.expires_at) from billing.holds as h where h.user_id = p_user and h.status = 'active'),
        case
            when u.plan is not null and u.plan_period_end > p_now
                then billing.next_business_midnight(p_now)
        end,
        -- The end of the subscription's grace window (payments.end_lapsed_subscription).
        case
            when u.plan is not null
                then u.plan_period_end + (select s.renewal_grace from payments.settings as s)
        end
    )
    where u.id = p_user
    returning u.credits_next_event_at into v_next;
    return v_next;
end
$$;

-- A new grant or hold expiring at p_at: bring the user's next event forward if it is sooner.
create or replace function billing.note_credit_event(p_user uuid, p_at timestamptz)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
    if p_at is not null then
        update public.users set credits_next_event_at = p_at
        where id = p_user and (credits_next_event_at is null or credits_next_event_at > p_at);
    end if;
end
$$;

-- A new user, or a plan change (payments, operators), may start or stop daily bonuses: upkeep
-- is due at once. The epoch is earlier than any clock, a frozen or skewed one included.
create or replace function billing.reschedule_credit_events()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.credits_next_event_at := 'epoch';
    return new;
end
$$;

drop trigger if exists users_reschedule_credit_events on public.users;
create trigger users_reschedule_credit_events
before insert or update of plan, plan_period_start, plan_period_end on public.users
for each row execute function billing.reschedule_credit_events();

-- The ledger keeps every user it mentions: a user with credit history cannot be deleted
-- (deactivate the account instead). Checked here rather than by a foreign key on every entry.
create or replace function billing.keep_users_with_ledger()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    if exists (select from public.credit_transactions as t where t.user_id = old.id) then
        raise exception 'user % has credit history and cannot be deleted', old.id
            using errcode = '23503', hint = 'deactivate the account instead';
    end if;
    return old;
end
$$;

drop trigger if exists users_keep_ledger on public.users;
create trigger users_keep_ledger
before delete on public.users
for each row execute function billing.keep_users_with_ledger();

revoke all on function billing.schedule_credit_events(uuid, timestamptz),
billing.note_credit_event(uuid, timestamptz), billing.reschedule_credit_events(),
billing.keep_users_with_ledger() from public;
