-- Whether a project takes visitors' submissions and shows its public assets: it exists and is
-- published. Visitors cannot read projects, so the check runs as the owner of the table; it
-- answers the same for a draft, an archived and a missing project, so nothing leaks.
-- PL/pgSQL for a plan kept across calls (see owned_project_ids.sql).
create or replace function private.is_published_project(p_project_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return exists (
        select from public.projects as p
        where p.id = p_project_id and p.status = 'published'
    );
end
$$;

revoke all on function private.is_published_project(uuid) from public;
grant execute on function private.is_published_project(uuid) to anon, authenticated, service_role;
