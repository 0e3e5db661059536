-- Plans are public price-list data: anyone may read the active ones; only operators change them.
drop policy if exists plans_read_active on public.plans;
create policy plans_read_active on public.plans
for select
to anon, authenticated
using (active);
