-- Domain orders: the owner follows those of their own projects; only the order functions
-- (functions/domains) change them.
drop policy if exists domain_orders_owner_read on public.domain_orders;
create policy domain_orders_owner_read on public.domain_orders
for select
to authenticated
using (project_id = any(array(select private.owned_project_ids())));
