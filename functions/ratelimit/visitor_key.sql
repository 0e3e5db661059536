-- The visitor's key in one project: an HMAC of project and client address under a secret key,
-- so submissions from one address are counted together without the address being stored.
create or replace function ratelimit.visitor_key(p_project_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
    select left(encode(extensions.hmac(
        convert_to(p_project_id::text || '|' || coalesce(ratelimit.client_address(), 'unknown'), 'UTF8'),
        s.visitor_key_secret, 'sha256'
    ), 'hex'), 32)
    from ratelimit.settings as s
$$;

revoke all on function ratelimit.visitor_key(uuid) from public;
