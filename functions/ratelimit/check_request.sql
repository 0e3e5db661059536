-- The Data API write limiter: PostgREST's db-pre-request function (configured for this
-- database by migration 0018), called at the start of every request in the request's
-- transaction. Writes (any method but GET/HEAD/OPTIONS, in a read-write transaction) count
-- against the signed-in user's id, or for anonymous requests against the client address the
-- platform's proxy saw (ratelimit.client_address); service_role is never limited. Over the limit
-- the request fails with RATE_001 (HTTP 429, Retry-After). Limits live in ratelimit.settings;
-- docs/data-api-limits.md explains them.
--
-- Every counted hit stays counted: the counters are sequences, which a rollback does not undo,
-- so a request that fails later (or is refused here) has used up its hit, and floods of failing
-- calls are limited like any others. Within a window a refused caller stays refused, which
-- never lasts past the window's end.
--
-- The counters are a count-min sketch (see sql/0011_abuse_resistance.sql): the key's hash picks
-- one sequence in each of two rows, each sequence's value packs the window number and its hits,
-- and the key's count is the smaller of the two. Two requests starting a window at once may
-- both reset a sequence, losing a hit; nothing else is approximate except shared sequences,
-- which only ever count more.
create or replace function ratelimit.check_request()
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_role text := current_setting('role', true);
    v_window_seconds integer;
    v_limit integer;
    v_key text;
    v_now timestamptz;
    v_base bigint;
    v_hash bigint;
    v_first bigint;
    v_second bigint;
    v_sequence regclass;
    v_error public.error_codes;
    v_retry integer;
begin
    if v_role = 'service_role'
        or coalesce(nullif(current_setting('request.method', true), ''), 'GET') in ('GET', 'HEAD', 'OPTIONS')
        or current_setting('transaction_read_only') = 'on' then
        return;
    end if;
    if v_role = 'authenticated' then
        v_key := nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub';
    end if;
    if v_key is not null then
        select s.api_window_seconds, s.api_user_writes_per_window into v_window_seconds, v_limit
        from ratelimit.settings as s;
        v_key := 'u:' || v_key;
    else
        select s.api_window_seconds, s.api_ip_writes_per_window into v_window_seconds, v_limit
        from ratelimit.settings as s;
        v_key := 'ip:' || coalesce(ratelimit.client_address(), 'unknown');
    end if;
    -- billing.clock() only when a test may have frozen it: one function call less per request.
    v_now := case when current_setting('kwq8.frozen_now', true) <> '' then billing.clock() else now() end;
    -- Window number in the high bits, hits in the low 24.
    v_base := (floor(extract(epoch from v_now) / v_window_seconds)::bigint) << 24;
    v_hash := hashtextextended(v_key, 0);
    v_sequence := ('ratelimit.api_hits_' || (v_hash & 511))::regclass;
    v_first := nextval(v_sequence) - v_base;
    if v_first not between 1 and 16777215 then
        -- The value belongs to another window: this hit starts the current one.
        v_first := setval(v_sequence, v_base + 1) - v_base;
    end if;
    v_sequence := ('ratelimit.api_hits_' || (512 + ((v_hash >> 9) & 511)))::regclass;
    v_second := nextval(v_sequence) - v_base;
    if v_second not between 1 and 16777215 then
        v_second := setval(v_sequence, v_base + 1) - v_base;
    end if;
    if least(v_first, v_second) > v_limit then
        select * into v_error from public.error_codes as e where e.code = 'RATE_001';
        v_retry := greatest(
            ceil(((v_base >> 24) + 1) * v_window_seconds - extract(epoch from v_now))::integer, 1
        );
        raise sqlstate 'PGRST' using
            message = json_build_object(
                'code', v_error.code,
                'message', v_error.message_ar,
                'details', format('%s: more than %s writes in %s seconds', v_error.message_en, v_limit,
                    v_window_seconds),
                'hint', format('retry after %s seconds', v_retry)
            )::text,
            detail = json_build_object(
                'status', v_error.http_status,
                'headers', json_build_object('Retry-After', v_retry::text)
            )::text;
    end if;
end
$$;

-- The address of the client of this request as the platform's proxy saw it, or null. With
-- settings.api_client_ip_header set, that header (written by a proxy every request passes);
-- otherwise the X-Forwarded-For entry api_trusted_proxy_hops from the right: each trusted proxy
-- appends the address it received the request from, so entries further left were written by
-- the client and prove nothing. IPv6 addresses are keyed on their /64, which one subscriber
-- usually holds whole.
create or replace function ratelimit.client_address()
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_headers jsonb := nullif(current_setting('request.headers', true), '')::jsonb;
    v_hops integer;
    v_header text;
    v_entries text [];
    v_raw text;
    v_address inet;
begin
    select s.api_trusted_proxy_hops, s.api_client_ip_header into v_hops, v_header from ratelimit.settings as s;
    if v_header is not null then
        v_raw := btrim(v_headers ->> v_header);
    else
        v_entries := string_to_array(v_headers ->> 'x-forwarded-for', ',');
        v_raw := btrim(v_entries[greatest(cardinality(v_entries) - v_hops + 1, 1)]);
    end if;
    if v_raw is null or v_raw !~ '^[0-9A-Fa-f:.]{2,45}$' then
        return null;
    end if;
    begin
        v_address := v_raw::inet;
    exception when invalid_text_representation then
        return null;
    end;
    if family(v_address) = 6 then
        return host(network(set_masklen(v_address, 64))) || '/64';
    end if;
    return host(v_address);
end
$$;

revoke all on function ratelimit.check_request(), ratelimit.client_address() from public;
-- PostgREST calls the limiter as the request's role.
grant execute on function ratelimit.check_request() to anon, authenticated, service_role;
