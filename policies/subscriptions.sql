-- Subscriptions: owners read their own; every write goes through the payments functions.
drop policy if exists subscriptions_read_own on public.subscriptions;
create policy subscriptions_read_own on public.subscriptions
for select
to authenticated
using (user_id = (select auth.uid()));
