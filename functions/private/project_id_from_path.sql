-- The project a Storage object belongs to: the first folder of its name when that is a
-- project id in canonical form (lower-case uuid), else null, so a malformed name matches no
-- project instead of failing the cast.
create or replace function private.project_id_from_path(p_name text)
returns uuid
language sql
immutable
set search_path = ''
as $$
    select case
        when s.folder ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then s.folder::uuid
    end
    from (select (storage.foldername(p_name))[1] as folder) as s
$$;

revoke all on function private.project_id_from_path(text) from public;
grant execute on function private.project_id_from_path(text) to anon, authenticated, service_role;
