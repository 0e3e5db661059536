-- Undoes 0014_frontend_screens (development only). Credit-pack payments must be removed first
-- (the old checks refuse them).
drop function if exists public.extend_hold(uuid, uuid), billing.extend_hold(uuid, uuid), public.get_hold(uuid),
billing.hold_for_caller(uuid), billing.hold_of(uuid, uuid), billing.transaction_of(uuid, uuid),
public.capture_hold(uuid, uuid, numeric), public.release_hold(uuid, uuid, text),
public.refund_transaction(uuid, uuid, text, text);
alter table billing.holds drop column extensions;
alter table billing.settings drop column max_hold_extensions;
delete from public.error_codes
where code = 'CREDIT_016';
alter table payments.settings drop column checkout_dedup_window;
drop function if exists payments.recent_checkout(uuid, text, text);
drop function if exists public.create_pack_checkout(uuid, text, text, text),
payments.create_pack_checkout(uuid, text, text, text), payments.fulfil_pack(public.payments, text, text),
public.preview_checkout(uuid, text), payments.preview_checkout(uuid, text),
payments.quote(public.plans, public.subscriptions, timestamptz),
public.schedule_plan_change(uuid, text), payments.schedule_plan_change(uuid, text);
drop index if exists public.subscriptions_scheduled_plan;
alter table public.subscriptions drop column scheduled_plan;
alter table public.payments drop constraint payments_purpose_credit_pack_check;
alter table public.payments drop constraint payments_purpose_check;
alter table public.payments add constraint payments_purpose_check check (purpose in ('plan', 'domain'));
alter table public.payments drop constraint payments_kind_check;
alter table public.payments add constraint payments_kind_check check (kind in ('new', 'renewal', 'upgrade'));
drop index if exists public.payments_credit_pack;
alter table public.payments drop column credit_pack;
drop table if exists public.credit_packs;
delete from public.error_codes
where code = 'PAY_011';
drop trigger if exists projects_queue_storage_cleanup on public.projects;
drop function if exists private.queue_storage_cleanup(), public.storage_cleanup_batch(integer),
public.finish_storage_cleanup(uuid, text), private.storage_folder_objects(text, uuid, integer),
private.storage_cleanup_batch(integer), private.finish_storage_cleanup(uuid, text);
drop table if exists private.storage_cleanups;
alter publication supabase_realtime drop table public.users, public.credit_transactions, public.bookings;
drop trigger if exists credit_transactions_describe_in_arabic on public.credit_transactions;
drop function if exists billing.describe_in_arabic();
drop function if exists public.get_credit_usage(integer), billing.usage_for_caller(integer);
drop index if exists public.credit_transactions_user_seq;
alter table public.credit_transactions drop column description_ar;
alter table billing.settings drop column signup_grant_ttl, drop column signup_grant_credits;
-- The error mapping of the constraints that went with the tables and columns above.
delete from private.constraint_error_codes as m
where not exists (
    select from pg_catalog.pg_constraint as c
    inner join pg_catalog.pg_class as r on c.conrelid = r.oid
    where r.relnamespace = 'public'::regnamespace and r.relname = m.table_name and c.conname = m.constraint_name
);
