-- Fixed-window rate limiting shared by every instance of the billing service and by the Data
-- API pre-request limiter: one counter row per bucket and window in ratelimit.rate_limits. A hit
-- counts whether or not it is allowed. The job deletes old windows.
create or replace function ratelimit.hit_rate_limit(p_bucket text, p_limit integer, p_window_seconds integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_window timestamptz;
    v_hits integer;
begin
    if p_bucket is null or char_length(p_bucket) not between 1 and 200 then
        perform private.raise_error('VAL_001', 'bucket must be 1-200 characters');
    end if;
    if p_limit is null or p_limit < 1 then
        perform private.raise_error('VAL_001', 'the limit must be at least 1');
    end if;
    if p_window_seconds is null or p_window_seconds not between 1 and 86400 then
        perform private.raise_error('VAL_001', 'the window must be 1 to 86400 seconds');
    end if;
    v_window := to_timestamp(floor(extract(epoch from v_now) / p_window_seconds) * p_window_seconds);
    insert into ratelimit.rate_limits as r (bucket, window_start, hits)
    values (p_bucket, v_window, 1)
    on conflict (bucket, window_start) do update set hits = r.hits + 1
    returning r.hits into v_hits;
    return jsonb_build_object(
        'allowed', v_hits <= p_limit,
        'hits', v_hits,
        'limit', p_limit,
        'retry_after', greatest(ceil(extract(epoch from v_window - v_now) + p_window_seconds), 1)::integer
    );
end
$$;

create or replace function public.hit_rate_limit(bucket text, max_hits integer, window_seconds integer)
returns public.rate_limit_hit
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.rate_limit_hit, ratelimit.hit_rate_limit(bucket, max_hits, window_seconds))
$$;

revoke all on function ratelimit.hit_rate_limit(text, integer, integer),
public.hit_rate_limit(text, integer, integer) from public;
grant execute on function ratelimit.hit_rate_limit(text, integer, integer),
public.hit_rate_limit(text, integer, integer) to service_role;
