-- Owners read their projects' domains and the DNS records to create. Registration and
-- verification state is the domain service's (service_role) alone: no write grant or policy.
drop policy if exists domains_owner_read on public.domains;
create policy domains_owner_read on public.domains
for select
to authenticated
using (project_id = any(array(select private.owned_project_ids())));
