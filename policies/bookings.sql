-- "Project owners see client data": an owner reads, changes and deletes the bookings of their
-- projects. private.owned_project_ids() (SECURITY DEFINER, private schema) is computed once per
-- statement and matched against the indexed project_id, instead of a subquery on projects for
-- every row. Grants (0003) keep project_id out of reach of updates, so a booking never moves to
-- another tenant.
drop policy if exists bookings_owner_read on public.bookings;
create policy bookings_owner_read on public.bookings
for select
to authenticated
using (project_id = any(array(select private.owned_project_ids())));

drop policy if exists bookings_owner_update on public.bookings;
create policy bookings_owner_update on public.bookings
for update
to authenticated
using (project_id = any(array(select private.owned_project_ids())))
with check (project_id = any(array(select private.owned_project_ids())));

drop policy if exists bookings_owner_delete on public.bookings;
create policy bookings_owner_delete on public.bookings
for delete
to authenticated
using (project_id = any(array(select private.owned_project_ids())));

-- New bookings go only into a published project: from its site's visitors (anon, who can read
-- nothing back), or from its owner. Draft, archived and unknown projects take nothing.
drop policy if exists bookings_visitor_insert on public.bookings;
create policy bookings_visitor_insert on public.bookings
for insert
to anon
with check (private.is_published_project(project_id));

drop policy if exists bookings_owner_insert on public.bookings;
create policy bookings_owner_insert on public.bookings
for insert
to authenticated
with check (
    project_id = any(array(select private.owned_project_ids()))
    and private.is_published_project(project_id)
);
