-- The ledger: owners read their own entries; nobody writes through the API.
drop policy if exists credit_transactions_read_own on public.credit_transactions;
create policy credit_transactions_read_own on public.credit_transactions
for select
to authenticated
using (user_id = (select auth.uid()));
