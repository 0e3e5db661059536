-- Quotes: the owner reads those of their own projects; the domain service writes them.
drop policy if exists domain_quotes_owner_read on public.domain_quotes;
create policy domain_quotes_owner_read on public.domain_quotes
for select
to authenticated
using (project_id = any(array(select private.owned_project_ids())));
