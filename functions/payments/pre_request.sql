-- The Data API write limiter, as Supabase recommends: PostgREST calls the pgrst.db_pre_request
-- function at the start of every request, in the request's transaction. Writes (any method but
-- GET/HEAD/OPTIONS, in a read-write transaction) count against the signed-in user's id, or for
-- anonymous requests against the client IP (the first X-Forwarded-For entry, which Supabase's
-- gateway sets; a client can prepend its own, so the per-IP limit bounds honest clients and
-- scripts, not a determined attacker). service_role is never limited. Over the limit the request
-- fails with RATE_001 (HTTP 429, Retry-After). Limits live in payments.settings.
--
-- Not active until an operator runs (see README, "The billing service"):
--   alter role authenticator set pgrst.db_pre_request = 'payments.check_request';
--   notify pgrst, 'reload config';
-- The hit is counted in the request's transaction: a request that fails (the refused one
-- included) rolls its hit back, so only successful writes use up the window.
create or replace function payments.check_request()
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_method text := upper(coalesce(nullif(current_setting('request.method', true), ''), 'GET'));
    v_claims jsonb := coalesce(nullif(current_setting('request.jwt.claims', true), '')::jsonb, '{}'::jsonb);
    v_role text := coalesce(v_claims ->> 'role', 'anon');
    v_settings payments.settings;
    v_bucket text;
    v_limit integer;
    v_ip text;
    v_result jsonb;
    v_error public.error_codes;
begin
    if v_method in ('GET', 'HEAD', 'OPTIONS') or v_role = 'service_role'
        or current_setting('transaction_read_only') = 'on' then
        return;
    end if;
    select * into v_settings from payments.settings;
    if v_role = 'authenticated' and v_claims ->> 'sub' is not null then
        v_bucket := 'api:user:' || (v_claims ->> 'sub');
        v_limit := v_settings.api_user_writes_per_window;
    else
        v_ip := btrim(split_part(
            coalesce(nullif(current_setting('request.headers', true), '')::jsonb ->> 'x-forwarded-for', ''), ',', 1
        ));
        begin
            v_ip := host(v_ip::inet);
        exception when invalid_text_representation then
            v_ip := 'unknown';
        end;
        v_bucket := 'api:ip:' || v_ip;
        v_limit := v_settings.api_ip_writes_per_window;
    end if;
    v_result := payments.hit_rate_limit(left(v_bucket, 200), v_limit, v_settings.api_window_seconds);
    if not (v_result ->> 'allowed')::boolean then
        select * into v_error from public.error_codes as e where e.code = 'RATE_001';
        raise sqlstate 'PGRST' using
            message = json_build_object(
                'code', v_error.code,
                'message', v_error.message_ar,
                'details', format('%s: more than %s writes in %s seconds', v_error.message_en, v_limit,
                    v_settings.api_window_seconds),
                'hint', format('retry after %s seconds', v_result ->> 'retry_after')
            )::text,
            detail = json_build_object(
                'status', v_error.http_status,
                'headers', json_build_object('Retry-After', v_result ->> 'retry_after')
            )::text;
    end if;
end
$$;

revoke all on function payments.check_request() from public;
grant execute on function payments.check_request() to anon, authenticated, service_role;
