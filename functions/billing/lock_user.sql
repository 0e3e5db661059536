-- Every credit operation starts here: lock the user's row (the one lock that serialises all of
-- a user's credit changes, always taken first, so no deadlock is possible), then bring the
-- user up to date: release expired holds, expire ended grants, grant today's bonus. Creates the
-- public.users row for an auth user that predates the sign-up trigger.
create or replace function billing.lock_user(p_user uuid)
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
    perform billing.expire_user_holds(p_user);
    perform billing.expire_user_grants(p_user);
    perform billing.ensure_daily_bonus(v_user);
    select * into v_user from public.users where id = p_user;
    return v_user;
end
$$;

revoke all on function billing.lock_user(uuid) from public;
