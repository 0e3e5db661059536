-- The ids of the caller's projects (none for anon). Policies on client data match project_id
-- against them as `project_id = any(array(select private.owned_project_ids()))`: the array is
-- computed once per statement (an initPlan) and used as an index condition, instead of a
-- subquery on projects for every row. SECURITY DEFINER in a schema the Data API does not
-- expose: it reads projects past their own RLS, for the caller's own user id only.
-- PL/pgSQL rather than SQL on purpose: a SECURITY DEFINER SQL function is never inlined and is
-- planned again on every call (about 80 us), while PL/pgSQL keeps its plan for the session
-- (about 12 us); the owner's index on (user_id, slug) include (id) answers it alone.
create or replace function private.owned_project_ids()
returns setof uuid
rows 10
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return query
    select p.id
    from public.projects as p
    where p.user_id = auth.uid();
end
$$;

revoke all on function private.owned_project_ids() from public;
grant execute on function private.owned_project_ids() to anon, authenticated, service_role;
