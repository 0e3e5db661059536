-- Every credit operation that is not a plain spend starts here: lock the user's row (the one
-- lock that serialises all of a user's credit changes, always taken first, so no deadlock is
-- possible), then, if the user's next credit event is due, bring the user up to date: release
-- expired holds, end a subscription past its grace window, expire ended grants, grant today's
-- bonus, and schedule the next event.
-- Creates the public.users row for an auth user that predates the sign-up trigger.
create or replace function billing.lock_user(p_user uuid, p_now timestamptz)
returns public.users
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_user public.users;
begin
    select * into v_user from public.users where id = p_user for update;
    if not found then
        insert into public.users (id, email)
        select au.id, au.email from auth.users as au where au.id = p_user
        on conflict (id) do nothing;
        select * into v_user from public.users where id = p_user for update;
        if not found then
            perform private.raise_error('CREDIT_014', format('no user %s', p_user));
        end if;
    end if;
    if v_user.credits_next_event_at <= p_now then  -- null: nothing scheduled
        perform billing.expire_user_holds(p_user);
        if v_user.plan_period_end <= p_now then
            perform payments.end_lapsed_subscription(p_user, p_now);
        end if;
        perform billing.expire_user_grants(p_user);
        if v_user.plan is not null and v_user.plan_period_end > p_now then
            perform billing.ensure_daily_bonus(v_user);
        end if;
        perform billing.schedule_credit_events(p_user, p_now);
        select * into v_user from public.users where id = p_user;
    end if;
    return v_user;
end
$$;

revoke all on function billing.lock_user(uuid, timestamptz) from public;
