-- Undoes 0010_frontend_contract (development only). Dropping the result types drops the RPCs
-- returning them; the function files of the older tree create them again (`kwq8 db migrate`).
drop function if exists billing.release(uuid, text);
drop type public.credit_summary, public.credit_summary_plan, public.credit_summary_bonus,
public.credit_summary_hold, public.credit_summary_grant, public.credit_spend, public.credit_grant,
public.credit_hold, public.credit_capture, public.credit_release, public.credit_refund cascade;
drop type public.api_error cascade;
drop trigger if exists projects_validate on public.projects;
drop trigger if exists bookings_validate on public.bookings;
drop trigger if exists contact_messages_validate on public.contact_messages;
drop function if exists private.raise_constraint_error();
drop table private.constraint_error_codes;
alter table public.users rename constraint users_plan_has_period_end to users_check;
alter table public.users rename constraint users_period_order to users_check1;
alter table public.credit_transactions
rename constraint credit_transactions_amount_nonzero to credit_transactions_check;
alter table public.credit_transactions
rename constraint credit_transactions_key_fingerprint to credit_transactions_check1;
alter table public.contact_messages rename constraint contact_messages_reachable to contact_messages_check;
alter table public.deployments rename constraint deployments_ready_has_url to deployments_check;
alter table public.domains rename constraint domains_active_verified to domains_check;
alter table public.payments rename constraint payments_closed_at to payments_check1;
alter table public.payments rename constraint payments_upgrade_proration to payments_check3;
alter table public.subscriptions rename constraint subscriptions_period_order to subscriptions_check;
alter table public.subscriptions rename constraint subscriptions_ended_at to subscriptions_check1;
delete from public.error_codes
where code in (
    'AUTH_007', 'AUTH_008', 'AUTH_009', 'AUTH_010', 'AUTH_011', 'AUTH_012', 'AUTH_013', 'AUTH_014', 'AUTH_015',
    'NET_001', 'VAL_003', 'VAL_004', 'VAL_005', 'VAL_006', 'VAL_007', 'VAL_008', 'VAL_009', 'VAL_010',
    'BOOK_001', 'BOOK_002', 'MSG_001', 'MSG_002', 'PROJ_002', 'PROJ_003', 'PROJ_004', 'PROJ_005'
);
