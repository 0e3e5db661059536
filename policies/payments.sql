-- Payments: owners read their own; every write goes through the payments functions.
drop policy if exists payments_read_own on public.payments;
create policy payments_read_own on public.payments
for select
to authenticated
using (user_id = (select auth.uid()));
