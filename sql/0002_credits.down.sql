-- Undoes 0002_credits (development only: it deletes every credit and the whole ledger).
drop trigger if exists on_auth_user_created on auth.users;
drop table if exists billing.allocations, public.credit_transactions, billing.holds, billing.grants,
public.users, public.action_costs, public.plans, public.error_codes, billing.settings cascade;
drop schema if exists billing cascade;
