-- The time every credit rule uses. Tests of time-dependent rules (Kuwait midnight, expiry)
-- freeze it with the `kwq8.frozen_now` setting, which is honoured only in databases where an
-- operator enabled `kwq8.clock_override` (test databases); clients can set neither.
create or replace function billing.clock()
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
begin
    if current_setting('kwq8.clock_override', true) = 'on' then
        return coalesce(nullif(current_setting('kwq8.frozen_now', true), '')::timestamptz, now());
    end if;
    return now();
end
$$;

revoke all on function billing.clock() from public;
grant execute on function billing.clock() to authenticated, service_role;
