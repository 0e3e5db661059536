-- Namecheap's account-wide request budget (20 a minute, 700 an hour, 8000 a day), one for
-- every worker and service instance. Each allowed call is a row in domains.call_budget; sliding
-- windows over them decide the next. Windows are measured in real time (clock_timestamp, read
-- under the lock) since they limit real requests, and are counted 5% long so that a call sent a
-- moment after it was allowed still falls inside its window at Namecheap.
-- Jobs may use the whole budget; searches leave reserved_for_jobs calls of each window to them.
create or replace function domains.take_registrar_call(p_priority text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_settings domains.settings;
    v_now timestamptz;
    v_window interval;
    v_reserve integer;
    v_spans interval[];
    v_limits integer[];
    v_count integer;
    v_oldest timestamptz;
    v_wait numeric := 0;
begin
    if p_priority is null or p_priority not in ('job', 'search') then
        perform private.raise_error('VAL_001', 'priority must be job or search');
    end if;
    -- One taker at a time: each count must see the calls taken before it.
    select * into strict v_settings from domains.settings as s where s.id for update;
    v_now := clock_timestamp();
    v_window := make_interval(secs => v_settings.window_seconds * 1.05);
    v_reserve := case when p_priority = 'search' then v_settings.reserved_for_jobs else 0 end;
    v_spans := array[v_window, v_window * 60, v_window * 1440];
    v_limits := array[v_settings.calls_per_minute, v_settings.calls_per_hour, v_settings.calls_per_day];
    for i in 1..3 loop
        select count(*), min(b.taken_at) into v_count, v_oldest
        from domains.call_budget as b
        where b.taken_at > v_now - v_spans[i];
        if v_count >= greatest(v_limits[i] - v_reserve, 0) then
            -- The earliest moment a slot of this window frees (approximately, for the oldest).
            v_wait := greatest(v_wait, ceil(extract(epoch from coalesce(v_oldest, v_now) + v_spans[i] - v_now)), 1);
        end if;
    end loop;
    if v_wait > 0 then
        return jsonb_build_object('allowed', false, 'retry_after', v_wait::integer);
    end if;
    insert into domains.call_budget (taken_at, priority) values (v_now, p_priority);
    return jsonb_build_object('allowed', true, 'retry_after', 0);
end
$$;

revoke all on function domains.take_registrar_call(text) from public;
grant execute on function domains.take_registrar_call(text) to service_role;
