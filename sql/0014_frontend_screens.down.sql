-- Undoes 0014_frontend_screens (development only).
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
