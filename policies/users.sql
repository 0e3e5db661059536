-- A user reads only their own row; balance and plan are written by billing functions only
-- (there is no insert, update or delete grant for any API role).
drop policy if exists users_read_own on public.users;
create policy users_read_own on public.users
for select
to authenticated
using (id = (select auth.uid()));
