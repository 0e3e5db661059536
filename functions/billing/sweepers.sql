-- Sweepers for idle users, fit for pg_cron: expired holds release and ended grants expire.
-- Users whose row is locked right now are skipped; their own request does the same work.
create or replace function billing.release_expired_holds(p_limit integer default 1000)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_user uuid;
    v_count integer := 0;
begin
    for v_user in
        select distinct h.user_id from billing.holds as h
        where h.status = 'active' and h.expires_at <= billing.clock()
        order by h.user_id
        limit greatest(p_limit, 0)
    loop
        if billing.try_lock_user(v_user) then
            v_count := v_count + billing.expire_user_holds(v_user);
        end if;
    end loop;
    return v_count;
end
$$;

create or replace function billing.expire_grants(p_limit integer default 1000)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_user uuid;
    v_count integer := 0;
begin
    for v_user in
        select distinct g.user_id from billing.grants as g
        where g.remaining > 0 and g.expires_at <= billing.clock()
        order by g.user_id
        limit greatest(p_limit, 0)
    loop
        if billing.try_lock_user(v_user) then
            -- Holds first: a released hold may hand credits back to a grant about to expire.
            perform billing.expire_user_holds(v_user);
            v_count := v_count + billing.expire_user_grants(v_user);
        end if;
    end loop;
    return v_count;
end
$$;

create or replace function billing.run_credit_sweepers()
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
    select jsonb_build_object(
        'holds_released', billing.release_expired_holds(),
        'grants_expired', billing.expire_grants()
    )
$$;

create or replace function public.run_credit_sweepers()
returns public.credit_sweep
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.credit_sweep, billing.run_credit_sweepers())
$$;

revoke all on function billing.release_expired_holds(integer), billing.expire_grants(integer),
billing.run_credit_sweepers(), public.run_credit_sweepers() from public;
grant execute on function billing.release_expired_holds(integer), billing.expire_grants(integer),
billing.run_credit_sweepers(), public.run_credit_sweepers() to service_role;
