-- Whether a Storage object name means the same to every reader of it. Storage keeps names as
-- plain keys, but a backend, CDN or download tool that normalises paths would resolve `.` and
-- `..` segments, merge empty ones, take a backslash for a separator, or decode %2e / %2f / %5c
-- first: `<B>/../<A>/x` passes B's folder check yet lands under A there. Control characters
-- hide a name's real spelling in dashboards and logs.
create or replace function private.is_safe_object_name(p_name text)
returns boolean
language sql
immutable
set search_path = ''
as $$
    select p_name is not null
        and p_name !~ '(^|/)\.{0,2}(/|$)'
        and p_name !~ '[\\[:cntrl:]]'
        and p_name !~* '%(2e|2f|5c)'
$$;

revoke all on function private.is_safe_object_name(text) from public;
grant execute on function private.is_safe_object_name(text) to anon, authenticated, service_role;
