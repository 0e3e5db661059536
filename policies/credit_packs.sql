-- Credit packs are public price-list data, like plans: anyone may read the active ones; only
-- operators change them.
drop policy if exists credit_packs_read_active on public.credit_packs;
create policy credit_packs_read_active on public.credit_packs
for select
to anon, authenticated
using (active);
