-- 0002: credits. Plans and action costs as data, one public.users row per auth user, credit
-- grants (lots), holds, and the append-only ledger with per-grant allocations.
--
-- Money rules that hold here whatever a client sends:
--  * balances are derived and guarded by constraints: users.credits_balance = sum of the
--    remaining credits of the user's grants = sum of the ledger; nothing is ever negative;
--  * every change to a grant's remaining credits is an allocation row tied to one ledger
--    transaction, so each transaction can be traced to (and refunded into) its grants;
--  * the ledger is append-only for every role, service_role included;
--  * clients read their own rows and write nothing: all writes go through functions in the
--    billing schema (SECURITY DEFINER, search_path = '').

create schema if not exists billing;
revoke all on schema billing from public;

-- Operator settings; one row. The clock override exists for tests of time-dependent rules.
create table billing.settings (
    id boolean primary key default true check (id),
    hold_ttl interval not null default interval '15 minutes' check (hold_ttl > interval '0'),
    max_active_holds integer not null default 10 check (max_active_holds > 0),
    max_grant_credits numeric(12, 2) not null default 1000000 check (max_grant_credits > 0),
    max_deduct_credits numeric(12, 2) not null default 10000 check (max_deduct_credits > 0),
    business_time_zone text not null default 'Asia/Kuwait'
);
insert into billing.settings default values;

-- The one list of error codes the frontend branches on: Arabic message for people, English
-- text for logs, and the HTTP status PostgREST answers with (see private.raise_error).
create table public.error_codes (
    code text primary key check (code ~ '^[A-Z]+_[0-9]{3}$'),
    http_status integer not null check (http_status between 400 and 599),
    message_ar text not null,
    message_en text not null
);

insert into public.error_codes (code, http_status, message_ar, message_en) values
('AUTH_001', 409, 'البريد الإلكتروني مستخدم مسبقاً', 'Email already registered'),
('AUTH_002', 401, 'بيانات الدخول غير صحيحة', 'Invalid credentials'),
('AUTH_003', 401, 'انتهت صلاحية الجلسة', 'Session expired'),
('AUTH_004', 401, 'يجب تسجيل الدخول أولاً', 'Sign-in required'),
('CREDIT_001', 402, 'رصيدك غير كافٍ', 'Insufficient credits'),
('CREDIT_002', 429, 'تم الوصول للحد الأقصى', 'Limit reached'),
('CREDIT_003', 400, 'الإجراء غير معروف', 'Unknown action'),
('CREDIT_004', 403, 'هذه الميزة متاحة لباقتي المميزة والمؤسسات فقط', 'Requires the Premium or Enterprise plan'),
('CREDIT_005', 409, 'تم استخدام مفتاح الطلب نفسه لطلب مختلف', 'Idempotency key reused with different arguments'),
('CREDIT_006', 400, 'مفتاح الطلب غير صالح', 'Invalid idempotency key'),
('CREDIT_007', 404, 'الحجز غير موجود', 'Hold not found'),
('CREDIT_008', 409, 'تمت تسوية هذا الحجز مسبقاً', 'Hold already resolved'),
('CREDIT_009', 410, 'انتهت صلاحية الحجز', 'Hold expired'),
('CREDIT_010', 400, 'قيمة الرصيد غير صالحة', 'Invalid credit amount'),
('CREDIT_011', 404, 'العملية غير موجودة', 'Transaction not found'),
('CREDIT_012', 409, 'لا يمكن استرجاع هذه العملية', 'Transaction cannot be refunded'),
('CREDIT_013', 400, 'بيانات المنحة غير صالحة', 'Invalid grant'),
('CREDIT_014', 404, 'المستخدم غير موجود', 'User not found'),
('GEN_001', 500, 'فشل إنشاء الموقع', 'Site generation failed'),
('PAY_001', 402, 'فشلت عملية الدفع', 'Payment failed'),
('DOM_001', 409, 'النطاق غير متاح', 'Domain unavailable'),
('VAL_001', 400, 'البيانات المدخلة غير صالحة', 'Invalid input');

create table public.plans (
    code text primary key check (code ~ '^[a-z][a-z0-9_]{1,30}$'),
    name_ar text not null,
    name_en text not null,
    price_kwd numeric(10, 3) not null check (price_kwd > 0),
    monthly_credits numeric(12, 2) not null check (monthly_credits >= 0),
    daily_bonus numeric(12, 2) not null check (daily_bonus >= 0),
    max_projects integer not null check (max_projects >= 0),
    billing_period interval not null default interval '1 month' check (billing_period > interval '0'),
    -- Monthly credits stay usable this many periods after the one they were granted for.
    rollover_periods integer not null default 1 check (rollover_periods between 0 and 12),
    sort_order integer not null default 0,
    active boolean not null default true
);

insert into public.plans (
    code, name_ar, name_en, price_kwd, monthly_credits, daily_bonus, max_projects, sort_order
)
values
('basic', 'الأساسية', 'Basic', 23.000, 100, 5, 3, 1),
('pro', 'الاحترافية', 'Pro', 38.000, 200, 8, 10, 2),
('premium', 'المميزة', 'Premium', 59.000, 350, 12, 25, 3),
('enterprise', 'المؤسسات', 'Enterprise', 75.000, 500, 15, 100, 4);

create table public.action_costs (
    action text primary key check (action ~ '^[a-z][a-z0-9_]{1,40}$'),
    cost numeric(12, 2) not null check (cost > 0),
    -- null: any user may run it; otherwise only subscribers of these plans.
    allowed_plans text[] check (allowed_plans is null or cardinality(allowed_plans) > 0),
    name_ar text not null,
    name_en text not null,
    active boolean not null default true
);

insert into public.action_costs (action, cost, allowed_plans, name_ar, name_en) values
('chat_message', 1, null, 'رسالة محادثة', 'Chat message'),
('simple_edit', 0.5, null, 'تعديل بسيط', 'Simple edit'),
('component_generation', 2, null, 'إنشاء مكوّن', 'Component generation'),
('page_generation', 3, null, 'إنشاء صفحة', 'Page generation'),
('template_customization', 2, null, 'تخصيص قالب', 'Template customization'),
('complex_feature', 4, null, 'ميزة متقدمة', 'Complex feature'),
('banana_image', 2.5, array['premium', 'enterprise'], 'صورة بنانا', 'Banana image'),
('database_setup', 2.5, null, 'إعداد قاعدة بيانات', 'Database setup'),
('deployment', 1, null, 'نشر', 'Deployment');

-- One row per auth user (created by a trigger on auth.users). The plan columns describe the
-- current subscription; the payments service keeps them in step. A user with credit history
-- cannot be deleted (the ledger restricts it): deactivate such accounts instead.
create table public.users (
    id uuid primary key references auth.users (id) on delete cascade,
    email text,
    plan text references public.plans (code),
    plan_period_start timestamptz,
    plan_period_end timestamptz,
    credits_balance numeric(12, 2) not null default 0 check (credits_balance >= 0),
    -- The Kuwait calendar day whose daily bonus has been granted, so the check costs nothing.
    daily_bonus_day date,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check ((plan is null) = (plan_period_end is null)),
    check (plan_period_start is null or plan_period_start < plan_period_end)
) with (fillfactor = 70);  -- room on the page for HOT updates of the balance

create index users_plan on public.users (plan);

create table billing.grants (
    id uuid primary key default extensions.gen_random_uuid(),
    user_id uuid not null references public.users (id) on delete restrict,
    source text not null
    check (source in ('monthly', 'daily_bonus', 'purchase', 'promo', 'refund', 'adjustment')),
    amount numeric(12, 2) not null check (amount > 0),
    remaining numeric(12, 2) not null check (remaining >= 0 and remaining <= amount),
    effective_at timestamptz not null,
    expires_at timestamptz check (expires_at is null or expires_at > effective_at),
    grant_day date,
    created_at timestamptz not null default now(),
    check ((source = 'daily_bonus') = (grant_day is not null))
) with (fillfactor = 70);  -- room on the page for HOT updates of remaining
-- A daily bonus is granted once per user and Kuwait day, however many calls race for it.
create unique index grants_daily_bonus_once on billing.grants (user_id, grant_day)
where source = 'daily_bonus';
-- No index mentions `remaining`, so spending (which only changes remaining) is a HOT update.
create index grants_user_expiry on billing.grants (user_id, expires_at);
create index grants_expiring on billing.grants (expires_at) where expires_at is not null;

create table public.credit_transactions (
    -- The functions set ids from billing.uuid_v7() (time-ordered, so inserts append to the index).
    id uuid primary key default extensions.gen_random_uuid(),
    -- Commit order within a user (every write holds the user's row lock): the audit replays it.
    seq bigint generated always as identity,
    user_id uuid not null references public.users (id) on delete restrict,
    transaction_type text not null
    check (transaction_type in ('grant', 'spend', 'hold', 'capture', 'release', 'refund', 'expire')),
    -- Signed change of the user's balance.
    -- Captures record a resolution and move nothing; a release or refund may restore nothing
    -- when every grant it would restore has expired.
    credits_amount numeric(12, 2) not null
    check (credits_amount <> 0 or transaction_type in ('capture', 'release', 'refund')),
    balance_after numeric(12, 2) not null check (balance_after >= 0),
    description text check (char_length(description) <= 500),
    -- Validated against action_costs by the functions, not by a foreign key: a key-share lock
    -- on the one 'chat_message' row from every concurrent spend would serialise all users.
    action text check (action ~ '^[a-z][a-z0-9_]{1,40}$'),
    idempotency_key text check (char_length(idempotency_key) between 1 and 255),
    -- What the caller asked for under that key; a retry must ask for the same.
    request_fingerprint text,
    hold_id uuid,
    grant_id uuid references billing.grants (id),
    refund_of uuid references public.credit_transactions (id),
    metadata jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    check ((idempotency_key is null) = (request_fingerprint is null))
);
-- Nulls are distinct in unique indexes: rows without a key never collide.
create unique index credit_transactions_idempotency on public.credit_transactions (user_id, idempotency_key);
-- Sparse references get partial indexes: the hot spend path then updates four indexes, not seven.
create unique index credit_transactions_refunded_once on public.credit_transactions (refund_of)
where refund_of is not null;
-- A user's history is found through the (user_id, idempotency_key) index and sorted by seq: one
-- more index keyed by user would be one more random page written by every spend.
create index credit_transactions_hold on public.credit_transactions (hold_id) where hold_id is not null;
create index credit_transactions_grant on public.credit_transactions (grant_id) where grant_id is not null;

-- Every change to a grant's remaining credits, signed: +amount when granted, negative when
-- consumed, held or expired, positive when released or refunded.
create table billing.allocations (
    -- Checked at commit: a release or refund knows its amount only after restoring grants.
    transaction_id uuid not null references public.credit_transactions (id) deferrable initially deferred,
    grant_id uuid not null references billing.grants (id) on delete restrict,
    amount numeric(12, 2) not null check (amount <> 0),
    primary key (transaction_id, grant_id)
);
-- No index on grant_id: grants are never deleted, and per-grant sums (the audit) scan anyway.

create table billing.holds (
    id uuid primary key default extensions.gen_random_uuid(),
    user_id uuid not null references public.users (id) on delete restrict,
    action text not null check (action ~ '^[a-z][a-z0-9_]{1,40}$'),
    amount numeric(12, 2) not null check (amount > 0),
    status text not null default 'active' check (status in ('active', 'captured', 'released', 'expired')),
    captured_amount numeric(12, 2) check (captured_amount >= 0 and captured_amount <= amount),
    expires_at timestamptz not null,
    created_at timestamptz not null default now(),
    resolved_at timestamptz,
    check ((status = 'active') = (resolved_at is null)),
    check ((status = 'captured') = (captured_amount is not null))
);
create index holds_active on billing.holds (user_id, expires_at) where status = 'active';
create index holds_user on billing.holds (user_id);
create index holds_expiring on billing.holds (expires_at) where status = 'active';

alter table public.credit_transactions
add constraint credit_transactions_hold_fk foreign key (hold_id) references billing.holds (id);

-- Append-only for every role, service_role and table owner included: corrections are new
-- transactions (refunds, grants), never edits. Only a superuser could bypass this trigger.
create function billing.forbid_ledger_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception '% is append-only: % is not allowed', tg_table_schema || '.' || tg_table_name, lower(tg_op)
        using errcode = '42501', hint = 'record a correcting transaction (refund or grant) instead';
end
$$;
revoke all on function billing.forbid_ledger_change() from public;

create trigger credit_transactions_append_only
before update or delete on public.credit_transactions
for each row execute function billing.forbid_ledger_change();
create trigger credit_transactions_no_truncate
before truncate on public.credit_transactions
for each statement execute function billing.forbid_ledger_change();
create trigger allocations_append_only
before update or delete on billing.allocations
for each row execute function billing.forbid_ledger_change();
create trigger allocations_no_truncate
before truncate on billing.allocations
for each statement execute function billing.forbid_ledger_change();

-- Sign-ups create their public.users row (billing.handle_new_auth_user lives in functions/).
-- Created here, once: re-creating it would need ownership of auth.users, which only Supabase
-- Auth has; `postgres` holds the TRIGGER privilege to create it.
create function billing.handle_new_auth_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    return new;  -- replaced by functions/billing/handle_new_auth_user.sql
end
$$;
revoke all on function billing.handle_new_auth_user() from public;
create trigger on_auth_user_created
after insert or update of email on auth.users
for each row execute function billing.handle_new_auth_user();

-- Every table gets RLS, exposed or not; clients reach billing.* only through functions.
alter table billing.settings enable row level security;
alter table billing.grants enable row level security;
alter table billing.allocations enable row level security;
alter table billing.holds enable row level security;
alter table public.error_codes enable row level security;
alter table public.plans enable row level security;
alter table public.action_costs enable row level security;
alter table public.users enable row level security;
alter table public.credit_transactions enable row level security;

-- Policies and public functions call billing helpers; its tables have no client grants.
grant usage on schema billing to authenticated, service_role;
grant select on public.plans, public.action_costs, public.error_codes to anon, authenticated, service_role;
grant select on public.users, public.credit_transactions to authenticated, service_role;
