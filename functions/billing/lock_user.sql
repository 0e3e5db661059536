-- Every credit operation starts here: lock the user's row (the one lock that serialises all of
-- a user's credit changes, always taken first, so no deadlock is possible), then bring the
-- user up to date: release expired holds, expire ended grants, grant today's bonus. Each of
-- those is an index probe first, because this runs inside the lock on every call. Creates the
-- public.users row for an auth user that predates the sign-up trigger.
create or replace function billing.lock_user(p_user uuid, p_now timestamptz)
returns public.users
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_user public.users;
    v_probe record;
    v_expired_holds boolean;
    v_expired_grants boolean;
    v_changed boolean := false;
begin
    -- One statement: the lock and both expiry probes.
    select
        u as usr,
        exists (
            select from billing.holds as h where h.user_id = u.id and h.status = 'active' and h.expires_at <= p_now
        ) as expired_holds,
        exists (
            select from billing.grants as g where g.user_id = u.id and g.remaining > 0 and g.expires_at <= p_now
        ) as expired_grants
    into v_probe
    from public.users as u
    where u.id = p_user
    for update of u;
    if found then
        v_user := v_probe.usr;
        v_expired_holds := v_probe.expired_holds;
        v_expired_grants := v_probe.expired_grants;
    else
        insert into public.users (id, email)
        select au.id, au.email from auth.users as au where au.id = p_user
        on conflict (id) do nothing;
        select * into v_user from public.users where id = p_user for update;
        if not found then
            perform private.raise_error('CREDIT_014', format('no user %s', p_user));
        end if;
        v_expired_holds := false;
        v_expired_grants := false;
    end if;
    if v_expired_holds then
        perform billing.expire_user_holds(p_user);
        v_changed := true;
    end if;
    if v_expired_grants then
        perform billing.expire_user_grants(p_user);
        v_changed := true;
    end if;
    if v_user.plan is not null and v_user.plan_period_end > p_now then
        v_changed := billing.ensure_daily_bonus(v_user) or v_changed;
    end if;
    if v_changed then
        select * into v_user from public.users where id = p_user;
    end if;
    return v_user;
end
$$;

revoke all on function billing.lock_user(uuid, timestamptz) from public;
