-- Raise a catalogued error so PostgREST answers with its HTTP status and the body
-- {code, message (Arabic), details (English, for logs), hint}. Unknown codes are a bug in the
-- caller and surface as a 500 naming the code.
create or replace function private.raise_error(p_code text, p_details text default null, p_hint text default null)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
    v_error public.error_codes;
begin
    select * into v_error from public.error_codes where code = p_code;
    if not found then
        raise exception 'unknown error code %', p_code;
    end if;
    raise sqlstate 'PGRST' using
        message = json_build_object(
            'code', v_error.code,
            'message', v_error.message_ar,
            'details', coalesce(v_error.message_en || ': ' || p_details, v_error.message_en),
            'hint', p_hint
        )::text,
        detail = json_build_object('status', v_error.http_status)::text;
end
$$;

revoke all on function private.raise_error(text, text, text) from public;
grant execute on function private.raise_error(text, text, text) to anon, authenticated, service_role;
