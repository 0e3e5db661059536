-- 0014: what the frontend's screens need that the schema did not give them.
--  * Sign-up grant: a new user gets billing.settings.signup_grant_credits (10) promotional
--    credits that expire after signup_grant_ttl (14 days), once, from the sign-up trigger.
--  * Dashboard: ledger entries carry an Arabic description (description_ar) next to the
--    English one, and the transaction list pages through an index on (user_id, seq desc).
--  * Realtime: balance (users), ledger (credit_transactions) and bookings are in the
--    supabase_realtime publication; Realtime applies each subscriber's RLS to what it sends.

alter table billing.settings add column signup_grant_credits numeric(12, 2) not null default 10
constraint settings_signup_grant_credits_check check (signup_grant_credits >= 0);
alter table billing.settings add column signup_grant_ttl interval not null default interval '14 days'
constraint settings_signup_grant_ttl_check check (signup_grant_ttl > interval '0');

alter table public.credit_transactions add column description_ar text
constraint credit_transactions_description_ar_check check (char_length(description_ar) <= 500);

-- The dashboard's transaction list: the newest entries of one user, page after page. This is one
-- more index written by every ledger insert; it replaces a sort of all the user's entries per page.
-- squawk-ignore require-concurrent-index-creation
create index credit_transactions_user_seq on public.credit_transactions (user_id, seq desc);

-- Fills description_ar where the writer gave none (every billing function writes the English
-- text only): from the action's Arabic name, or the grant's source, or the entry's type.
create function billing.describe_in_arabic()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    return new;  -- replaced by functions/billing/describe_in_arabic.sql
end
$$;
revoke all on function billing.describe_in_arabic() from public;
create trigger credit_transactions_describe_in_arabic
before insert on public.credit_transactions
for each row when (new.description_ar is null)
execute function billing.describe_in_arabic();

-- Supabase creates the publication in every project; a database without it gets it here.
do $$
begin
    if not exists (select from pg_publication where pubname = 'supabase_realtime') then
        create publication supabase_realtime;
    end if;
end
$$;
alter publication supabase_realtime add table public.users, public.credit_transactions, public.bookings;

-- Storage files of deleted projects. Deleting rows of storage.objects in SQL would orphan the
-- files (Supabase refuses it: storage.protect_delete), so a deleted project's folder is queued
-- here and the storage cleanup job (`kwq8 jobs storage-cleanup`) deletes its objects through the
-- Storage API, a batch at a time, until none is left.
create table private.storage_cleanups (
    project_id uuid primary key,
    bucket_id text not null default 'project-assets'
    constraint storage_cleanups_bucket_id_check check (char_length(bucket_id) between 1 and 100),
    requested_at timestamptz not null default now(),
    attempts integer not null default 0 constraint storage_cleanups_attempts_check check (attempts >= 0),
    last_error text constraint storage_cleanups_last_error_check check (char_length(last_error) <= 500),
    done_at timestamptz
);
create index storage_cleanups_pending on private.storage_cleanups (requested_at) where done_at is null;
alter table private.storage_cleanups enable row level security;
revoke all on private.storage_cleanups from public;

create function private.queue_storage_cleanup()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    return null;  -- replaced by functions/projects/storage_cleanup.sql
end
$$;
revoke all on function private.queue_storage_cleanup() from public;
create trigger projects_queue_storage_cleanup
after delete on public.projects
for each row execute function private.queue_storage_cleanup();

-- Plans change both ways, and credits come in packs too.
--  * A downgrade is scheduled for the period end (subscriptions.scheduled_plan): the current plan
--    and its credits run to the period end, and a renewal on the scheduled plan (paid from the
--    period end, within the renewal grace) continues the period chain and switches the plan.
--  * One-off credit packs: a price list in KWD (public.credit_packs), bought through the same
--    checkout (payments.purpose and kind 'credit_pack', payments.credit_pack), granted as 'purchase' credits
--    that expire after the pack's validity.
insert into public.error_codes (code, http_status, message_ar, message_en) values
(
    'PAY_011', 409, 'هذه ترقية: اشترِ الباقة الأعلى من صفحة الدفع',
    'A dearer plan is an upgrade: buy it through checkout'
);

create table public.credit_packs (
    code text primary key constraint credit_packs_code_check check (code ~ '^[a-z][a-z0-9_]{1,30}$'),
    name_ar text not null constraint credit_packs_name_ar_check check (char_length(name_ar) between 1 and 100),
    name_en text not null constraint credit_packs_name_en_check check (char_length(name_en) between 1 and 100),
    credits numeric(12, 2) not null constraint credit_packs_credits_check check (credits > 0),
    price_kwd numeric(10, 3) not null constraint credit_packs_price_kwd_check check (price_kwd > 0),
    -- The pack's credits expire this long after the payment is confirmed.
    validity interval not null constraint credit_packs_validity_check check (validity > interval '0'),
    sort_order integer not null default 0,
    active boolean not null default true
);
insert into public.credit_packs (code, name_ar, name_en, credits, price_kwd, validity, sort_order) values
('pack_50', 'باقة ٥٠ رصيد', '50 credits', 50, 5.000, interval '90 days', 1),
('pack_150', 'باقة ١٥٠ رصيد', '150 credits', 150, 13.500, interval '180 days', 2),
('pack_400', 'باقة ٤٠٠ رصيد', '400 credits', 400, 32.000, interval '365 days', 3);
alter table public.credit_packs enable row level security;
revoke all on public.credit_packs from anon, authenticated, service_role;
grant select on public.credit_packs to anon, authenticated, service_role;

-- A payment buys a plan or a credit pack, never both.
-- New, empty column on a table of one row per checkout: the key check scans nothing, and so
-- does building the index.
-- squawk-ignore adding-foreign-key-constraint
alter table public.payments
-- squawk-ignore adding-foreign-key-constraint
add column credit_pack text constraint payments_credit_pack_fkey references public.credit_packs (code);
-- squawk-ignore require-concurrent-index-creation
create index payments_credit_pack on public.payments (credit_pack) where credit_pack is not null;
-- A credit pack is a third purpose of a payment (with a plan and a domain): its kind is
-- 'credit_pack' too, and its plan is null (payments_purpose_plan_check).
-- Each replaced check is added in the same transaction as its drop (one row per checkout).
-- squawk-ignore ban-drop-constraint
alter table public.payments drop constraint payments_kind_check;
-- squawk-ignore constraint-missing-not-valid
alter table public.payments add constraint payments_kind_check
check (kind in ('new', 'renewal', 'upgrade', 'credit_pack'));
-- squawk-ignore ban-drop-constraint
alter table public.payments drop constraint payments_purpose_check;
-- squawk-ignore constraint-missing-not-valid
alter table public.payments add constraint payments_purpose_check
check (purpose in ('plan', 'domain', 'credit_pack'));
-- squawk-ignore constraint-missing-not-valid
alter table public.payments add constraint payments_purpose_credit_pack_check
check ((purpose = 'credit_pack') = (credit_pack is not null) and (purpose = 'credit_pack') = (kind = 'credit_pack'));

-- squawk-ignore adding-foreign-key-constraint
alter table public.subscriptions
-- squawk-ignore adding-foreign-key-constraint
add column scheduled_plan text constraint subscriptions_scheduled_plan_fkey references public.plans (code)
constraint subscriptions_scheduled_plan_check check (scheduled_plan <> plan);
-- squawk-ignore require-concurrent-index-creation
create index subscriptions_scheduled_plan on public.subscriptions (scheduled_plan) where scheduled_plan is not null;

-- A checkout sent without an Idempotency-Key gets a key derived by the service ('auto:...'):
-- within this window a second such checkout for the same purchase by the same user returns the
-- pending payment of the first, so a double click makes one payment.
alter table payments.settings add column checkout_dedup_window interval not null default interval '2 minutes'
constraint settings_checkout_dedup_window_check
check (checkout_dedup_window between interval '0' and interval '1 hour');

-- A long generation keeps its hold while it streams: the generation server extends it, each
-- time to one hold_ttl from now, at most max_hold_extensions times (so a hold lives at most
-- (1 + max_hold_extensions) x hold_ttl, two and a quarter hours by default).
insert into public.error_codes (code, http_status, message_ar, message_en) values
('CREDIT_016', 409, 'لا يمكن تمديد الحجز أكثر من ذلك', 'Hold cannot be extended any further');
alter table billing.settings add column max_hold_extensions integer not null default 8
constraint settings_max_hold_extensions_check check (max_hold_extensions between 0 and 100);
alter table billing.holds add column extensions integer not null default 0
constraint holds_extensions_check check (extensions >= 0);

-- The trusted servers' hold and refund calls name the user (functions/billing/hold_status.sql):
-- the signatures without it go, so no caller keeps resolving holds it never checked.
-- squawk-ignore ban-drop-function
drop function if exists public.capture_hold(uuid, numeric), public.release_hold(uuid, text),
public.refund_transaction(uuid, text, text);

-- What a violation answers. Only functions and the operators write the price list, the payment
-- purpose and the scheduled plan, so a broken rule is ours (SYS_001). Every constraint this
-- revision added to the exposed tables is listed, so none is left unmapped.
insert into private.constraint_error_codes (table_name, constraint_name, code)
select
    r.relname as table_name,
    c.conname as constraint_name,
    'SYS_001' as code
from pg_catalog.pg_constraint as c
inner join pg_catalog.pg_class as r on c.conrelid = r.oid
where
    r.relnamespace = 'public'::regnamespace
    and c.contype in ('c', 'u', 'f')
    and not exists (
        select from private.constraint_error_codes as m
        where m.table_name = r.relname and m.constraint_name = c.conname
    );
