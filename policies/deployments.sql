-- Owners read their projects' deployments. Nobody but the deploy service (service_role, which
-- bypasses RLS) writes them: API roles have no write grant, and no write policy exists.
drop policy if exists deployments_owner_read on public.deployments;
create policy deployments_owner_read on public.deployments
for select
to authenticated
using (project_id = any(array(select private.owned_project_ids())));
