-- A generated site's contact form: the project's owner reads, marks (status only, by grant)
-- and deletes its messages; visitors (anon) and the owner send new ones to a published project
-- only; visitors read nothing back. Same helpers and reasons as policies/bookings.sql.
drop policy if exists contact_messages_owner_read on public.contact_messages;
create policy contact_messages_owner_read on public.contact_messages
for select
to authenticated
using (project_id = any(array(select private.owned_project_ids())));

drop policy if exists contact_messages_owner_update on public.contact_messages;
create policy contact_messages_owner_update on public.contact_messages
for update
to authenticated
using (project_id = any(array(select private.owned_project_ids())))
with check (project_id = any(array(select private.owned_project_ids())));

drop policy if exists contact_messages_owner_delete on public.contact_messages;
create policy contact_messages_owner_delete on public.contact_messages
for delete
to authenticated
using (project_id = any(array(select private.owned_project_ids())));

drop policy if exists contact_messages_visitor_insert on public.contact_messages;
create policy contact_messages_visitor_insert on public.contact_messages
for insert
to anon
with check (private.is_published_project(project_id));

drop policy if exists contact_messages_owner_insert on public.contact_messages;
create policy contact_messages_owner_insert on public.contact_messages
for insert
to authenticated
with check (
    project_id = any(array(select private.owned_project_ids()))
    and private.is_published_project(project_id)
);
