-- "Users see own projects": an owner reads, creates, changes and deletes only their own
-- projects, and cannot create one for somebody else (with check). Which columns they may
-- write is in the grants (0003): never user_id after creation. Written as Supabase's RLS
-- performance guide says: (select auth.uid()) runs once per statement, only for
-- authenticated, on the indexed user_id. Visitors (anon) have no access at all.
drop policy if exists projects_owner on public.projects;
create policy projects_owner on public.projects
for all
to authenticated
using (user_id = (select auth.uid()))
with check (user_id = (select auth.uid()));
