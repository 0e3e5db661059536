-- The first midnight after p_at in the business time zone (Asia/Kuwait): when a daily bonus
-- expires, when the summary says it resets, and when the upkeep schedule next looks. One
-- definition, so the schedule can never fall after the expiry it is meant to catch.
create or replace function billing.next_business_midnight(p_at timestamptz)
returns timestamptz
language sql
stable
set search_path = ''
as $$
    select ((p_at at time zone s.business_time_zone)::date + 1)::timestamp at time zone s.business_time_zone
    from billing.settings as s
$$;

revoke all on function billing.next_business_midnight(timestamptz) from public;
