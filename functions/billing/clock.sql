-- The time every credit rule uses. Tests of time-dependent rules (Kuwait midnight, expiry)
-- freeze it with the `kwq8.frozen_now` setting, which any session can set on itself: it is
-- honoured only in a database the test harness marked, by a table kwq8_test.clock owned by a
-- superuser. Neither postgres nor any API role can create a superuser's table, so on an
-- application database (Supabase's included, where postgres is not a superuser) the setting is
-- ignored. The marker is looked up only when the setting is present, so production pays one
-- current_setting call.
create or replace function billing.clock()
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
declare
    v_frozen text := current_setting('kwq8.frozen_now', true);
begin
    if v_frozen is null or v_frozen = '' then
        return now();
    end if;
    if exists (
        select from pg_catalog.pg_class as c
        inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        inner join pg_catalog.pg_roles as r on r.oid = c.relowner
        where n.nspname = 'kwq8_test' and c.relname = 'clock' and r.rolsuper
    ) then
        return v_frozen::timestamptz;
    end if;
    return now();
end
$$;

revoke all on function billing.clock() from public;
-- Triggers that run as the caller (none today) and the limiter call it; it reveals nothing.
grant execute on function billing.clock() to authenticated, service_role;
