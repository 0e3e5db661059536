-- Undoes 0002_credits (development only: it deletes every credit and the whole ledger).
drop table if exists billing.allocations, public.credit_transactions, billing.holds, billing.grants,
public.users, public.action_costs, public.plans, public.error_codes, billing.settings cascade;
drop schema if exists billing cascade;
