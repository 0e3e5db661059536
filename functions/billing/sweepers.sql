-- Sweepers for idle users, fit for pg_cron: expired holds release and ended grants expire.
-- Users whose row is locked right now are skipped; their own request does the same work.
drop function if exists billing.release_expired_holds(integer);
drop function if exists billing.expire_grants(integer);
drop function if exists billing.run_credit_sweepers();

-- One pass over the users with something due, each locked once: holds first, because a released
-- hold may hand credits back to a grant about to expire.
create or replace function billing.run_credit_sweepers(p_limit integer default 1000)
returns public.credit_sweep
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_user uuid;
    v_result public.credit_sweep := row(0, 0);
begin
    for v_user in
        select h.user_id from billing.holds as h where h.status = 'active' and h.expires_at <= v_now
        union
        select g.user_id from billing.grants as g where g.remaining > 0 and g.expires_at <= v_now
        order by 1
        limit greatest(p_limit, 0)
    loop
        if billing.try_lock_user(v_user) then
            v_result.holds_released := v_result.holds_released + billing.expire_user_holds(v_user);
            v_result.grants_expired := v_result.grants_expired + billing.expire_user_grants(v_user);
        end if;
    end loop;
    return v_result;
end
$$;

create or replace function public.run_credit_sweepers()
returns public.credit_sweep
language sql
volatile
set search_path = ''
as $$
    select * from billing.run_credit_sweepers()
$$;

revoke all on function billing.run_credit_sweepers(integer), public.run_credit_sweepers() from public;
grant execute on function billing.run_credit_sweepers(integer), public.run_credit_sweepers() to service_role;
