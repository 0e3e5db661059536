-- What each AI action costs is shown before it runs: anyone may read the active prices.
drop policy if exists action_costs_read_active on public.action_costs;
create policy action_costs_read_active on public.action_costs
for select
to anon, authenticated
using (active);
