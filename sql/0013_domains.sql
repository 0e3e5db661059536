-- 0013: domains. A site owner searches a name, pays for it in KWD through the payments path
-- (a payment whose purpose is 'domain'), and a job registers it at Namecheap and points it at
-- the site on Vercel; an owner who has a domain connects it instead (docs/domains.md).
--
-- Rules that hold here whatever a caller sends:
--  * prices are numeric(12,3) KWD, frozen in a quote that expires (15 minutes by default);
--  * a paid order is registered at most once: every registrar call that buys something is a
--    row in domains.registrar_calls, committed as 'submitting' before the request is sent, and
--    a unique index allows one create per order that is outstanding, unknown or succeeded. An
--    unknown outcome is reconciled with the registrar (getInfo) before anything is sent again;
--  * every paid order ends registered or refunded (payments.refunds), never both;
--  * Namecheap's account-wide limits (20 calls a minute, 700 an hour, 8000 a day) are one
--    budget in Postgres shared by every worker and service instance, with jobs before searches;
--  * browsers only read (their own projects' domains, orders and quotes, their own contact);
--    every write goes through functions in the `domains` schema.

create schema if not exists domains;
revoke all on schema domains from public;
grant usage on schema domains to authenticated, service_role;

insert into public.error_codes (code, http_status, message_ar, message_en) values
('DOM_002', 400, 'اسم النطاق غير صالح', 'Invalid domain name'),
('DOM_003', 400, 'هذا الامتداد غير مدعوم', 'Top-level domain not supported'),
('DOM_004', 409, 'انتهت صلاحية عرض السعر أو تغير السعر، أعد المحاولة', 'Quote expired or price changed'),
('DOM_005', 503, 'خدمة النطاقات مشغولة حالياً، حاول بعد قليل', 'Registrar busy: request budget spent'),
('DOM_006', 502, 'تعذر إتمام الطلب لدى مسجل النطاقات', 'Registrar error'),
('DOM_007', 409, 'تعذر تسجيل النطاق، وسيُعاد المبلغ المدفوع', 'Registration failed; the payment is refunded'),
('DOM_008', 502, 'تعذر إعداد سجلات DNS للنطاق', 'DNS setup failed'),
('DOM_009', 409, 'النطاق مستخدم في مشروع آخر', 'Domain is used by another project'),
('DOM_010', 403, 'النطاق مرتبط بحساب آخر', 'Domain belongs to another account'),
('DOM_011', 409, 'التحقق من النطاق ما زال قيد الانتظار', 'Domain verification pending'),
('DOM_012', 422, 'فشل التحقق من النطاق', 'Domain verification failed'),
('DOM_013', 503, 'خدمة النطاقات غير مفعلة حالياً', 'Domain service not configured'),
('DOM_014', 404, 'النطاق أو الطلب غير موجود', 'Domain, order or project not found'),
('DOM_015', 400, 'بيانات صاحب النطاق غير مكتملة أو غير صالحة', 'Registrant contact missing or invalid'),
('DOM_016', 409, 'تجديد هذا النطاق قيد التنفيذ', 'A renewal of this domain is already under way');

-- Operator settings; one row. The USD to KWD rate and the margin come from the service's
-- environment and are frozen into each quote.
create table domains.settings (
    id boolean primary key default true constraint settings_single_check check (id),
    -- Suggested alongside the asked name, and the only TLDs sold.
    tlds text[] not null default array['com', 'net', 'org', 'co', 'store', 'online', 'site', 'me']
    constraint settings_tlds_check check (cardinality(tlds) between 1 and 49),
    quote_ttl interval not null default interval '15 minutes'
    constraint settings_quote_ttl_check check (quote_ttl > interval '0'),
    availability_ttl interval not null default interval '60 seconds'
    constraint settings_availability_ttl_check check (availability_ttl >= interval '0'),
    pricing_ttl interval not null default interval '1 day'
    constraint settings_pricing_ttl_check check (pricing_ttl > interval '0'),
    -- Prices are rounded up to a multiple of this.
    price_step_kwd numeric(12, 3) not null default 0.250
    constraint settings_price_step_check check (price_step_kwd > 0),
    max_years integer not null default 10 constraint settings_max_years_check check (max_years between 1 and 10),
    -- Namecheap's documented account limits. window_seconds is the length of the "minute"
    -- (tests shorten it); the hour and the day are 60 and 1440 of them.
    calls_per_minute integer not null default 20 constraint settings_calls_minute_check check (calls_per_minute > 0),
    calls_per_hour integer not null default 700 constraint settings_calls_hour_check check (calls_per_hour > 0),
    calls_per_day integer not null default 8000 constraint settings_calls_day_check check (calls_per_day > 0),
    window_seconds numeric(8, 3) not null default 60
    constraint settings_window_check check (window_seconds between 0.5 and 3600),
    -- Calls of each window that searches may not use: registration and DNS jobs keep them.
    reserved_for_jobs integer not null default 5 constraint settings_reserved_check check (reserved_for_jobs >= 0),
    -- A worker's claim on an order or a domain step; another worker may take it after this.
    lease interval not null default interval '2 minutes' constraint settings_lease_check check (lease > interval '0'),
    -- Retry backoff of a step: base * 2^attempts, at most max.
    backoff_base interval not null default interval '30 seconds'
    constraint settings_backoff_base_check check (backoff_base > interval '0'),
    backoff_max interval not null default interval '1 hour'
    constraint settings_backoff_max_check check (backoff_max > interval '0'),
    -- A connected domain whose records are not in place by then is failed.
    verify_deadline interval not null default interval '7 days'
    constraint settings_verify_deadline_check check (verify_deadline > interval '0'),
    -- Before registration_expires_at a domain shows renewal_due.
    renewal_notice interval not null default interval '30 days'
    constraint settings_renewal_notice_check check (renewal_notice > interval '0')
);
insert into domains.settings default values;

-- users.getPricing, cached for pricing_ttl: the USD price of registering a TLD per year count.
create table domains.pricing (
    tld text not null constraint pricing_tld_check check (tld ~ '^[a-z0-9-]+(\.[a-z0-9-]+)*$'),
    action text not null constraint pricing_action_check check (action in ('register', 'renew')),
    years integer not null constraint pricing_years_check check (years between 1 and 10),
    usd_price numeric(12, 4) not null constraint pricing_usd_check check (usd_price >= 0),
    fetched_at timestamptz not null,
    primary key (tld, action, years)
);

-- domains.check answers, kept availability_ttl (60 s) to save the call budget.
create table domains.availability (
    fqdn text primary key constraint availability_fqdn_check check (char_length(fqdn) <= 253),
    available boolean not null,
    premium boolean not null,
    premium_usd numeric(12, 4) constraint availability_premium_check check (premium_usd >= 0),
    checked_at timestamptz not null
);

-- One row per Namecheap call that the budget allowed: the shared limiter counts them.
create table domains.call_budget (
    id bigint generated always as identity primary key,
    taken_at timestamptz not null,
    priority text not null constraint call_budget_priority_check check (priority in ('job', 'search'))
);
create index call_budget_taken on domains.call_budget (taken_at);

-- The registrant contact of an owner's domains (all four Namecheap contact roles).
create table public.domain_contacts (
    user_id uuid primary key references public.users (id) on delete cascade,
    first_name text not null constraint domain_contacts_first_name_check
    check (char_length(first_name) between 1 and 60 and first_name !~ '[[:cntrl:]]'),
    last_name text not null constraint domain_contacts_last_name_check
    check (char_length(last_name) between 1 and 60 and last_name !~ '[[:cntrl:]]'),
    organization text constraint domain_contacts_organization_check
    check (char_length(organization) between 1 and 100 and organization !~ '[[:cntrl:]]'),
    address1 text not null constraint domain_contacts_address1_check
    check (char_length(address1) between 1 and 100 and address1 !~ '[[:cntrl:]]'),
    address2 text constraint domain_contacts_address2_check
    check (char_length(address2) between 1 and 100 and address2 !~ '[[:cntrl:]]'),
    city text not null constraint domain_contacts_city_check
    check (char_length(city) between 1 and 60 and city !~ '[[:cntrl:]]'),
    state_province text not null constraint domain_contacts_state_check
    check (char_length(state_province) between 1 and 60 and state_province !~ '[[:cntrl:]]'),
    postal_code text not null constraint domain_contacts_postal_check check (postal_code ~ '^[A-Za-z0-9 -]{1,16}$'),
    country text not null constraint domain_contacts_country_check check (country ~ '^[A-Z]{2}$'),
    -- Namecheap's phone format: +<country code>.<number>.
    phone text not null constraint domain_contacts_phone_check check (phone ~ '^\+[0-9]{1,3}\.[0-9]{4,14}$'),
    email text not null constraint domain_contacts_email_check
    check (
        char_length(email) <= 254
        and email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+\.[^@[:space:][:cntrl:]]+$'
    ),
    updated_at timestamptz not null default now()
);

-- A price frozen for one owner, project, name and term.
create table public.domain_quotes (
    id uuid primary key default extensions.gen_random_uuid(),
    user_id uuid not null references public.users (id) on delete cascade,
    project_id uuid not null references public.projects (id) on delete cascade,
    fqdn text not null constraint domain_quotes_fqdn_check check (char_length(fqdn) between 3 and 253),
    fqdn_unicode text not null
    constraint domain_quotes_unicode_check check (char_length(fqdn_unicode) between 3 and 253),
    years integer not null constraint domain_quotes_years_check check (years between 1 and 10),
    premium boolean not null,
    usd_price numeric(12, 4) not null constraint domain_quotes_usd_check check (usd_price > 0),
    usd_kwd_rate numeric(12, 6) not null constraint domain_quotes_rate_check check (usd_kwd_rate > 0),
    margin numeric(6, 4) not null constraint domain_quotes_margin_check check (margin >= 1),
    price_kwd numeric(12, 3) not null constraint domain_quotes_price_check check (price_kwd > 0),
    expires_at timestamptz not null,
    created_at timestamptz not null default now()
);
create index domain_quotes_user on public.domain_quotes (user_id, created_at desc);
create index domain_quotes_project on public.domain_quotes (project_id);

-- What a domain payment bought: a registration, or the renewal of a domain registered here
-- (expires_before is the expiry it extends). State machine (functions/domains/orders.sql):
--   awaiting_payment -> queued (captured) -> submitting (create or renew sent, committed before)
--     -> registered (for a renewal: renewed) | reconciling (outcome unknown: getInfo decides)
--     | failed (refund requested)
--   awaiting_payment -> cancelled (the checkout closed unpaid)
create table public.domain_orders (
    id uuid primary key default extensions.gen_random_uuid(),
    user_id uuid not null references public.users (id) on delete cascade,
    project_id uuid not null references public.projects (id) on delete cascade,
    quote_id uuid not null references public.domain_quotes (id),
    payment_id uuid not null unique references public.payments (id),
    fqdn text not null constraint domain_orders_fqdn_check check (char_length(fqdn) between 3 and 253),
    years integer not null constraint domain_orders_years_check check (years between 1 and 10),
    action text not null default 'register'
    constraint domain_orders_action_check check (action in ('register', 'renew')),
    expires_before timestamptz,
    state text not null default 'awaiting_payment' constraint domain_orders_state_check check (
        state in ('awaiting_payment', 'queued', 'submitting', 'reconciling', 'registered', 'failed', 'cancelled')
    ),
    attempts integer not null default 0 constraint domain_orders_attempts_check check (attempts >= 0),
    next_attempt_at timestamptz,
    lease_until timestamptz,
    lease_owner text constraint domain_orders_lease_owner_check check (char_length(lease_owner) <= 100),
    error_code text constraint domain_orders_error_code_check check (error_code ~ '^[A-Z]+_[0-9]{3}$'),
    last_error text constraint domain_orders_last_error_check check (char_length(last_error) <= 500),
    registrar_domain_id text
    constraint domain_orders_registrar_id_check check (char_length(registrar_domain_id) <= 100),
    registrar_order_id text
    constraint domain_orders_registrar_order_check check (char_length(registrar_order_id) <= 100),
    charged_usd numeric(12, 4),
    registered_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint domain_orders_registered_check check ((state = 'registered') = (registered_at is not null)),
    constraint domain_orders_renewal_check check ((action = 'renew') = (expires_before is not null))
);
create index domain_orders_user on public.domain_orders (user_id, created_at desc);
create index domain_orders_project on public.domain_orders (project_id);
create index domain_orders_quote on public.domain_orders (quote_id);
create index domain_orders_work on public.domain_orders (next_attempt_at)
where state in ('queued', 'submitting', 'reconciling');

-- The journal of every Namecheap call that buys something (create, renew). Written and committed as
-- 'submitting' before the request goes out; then succeeded, failed (a definitive refusal:
-- nothing was bought), unknown (no usable answer) or absent (reconciliation found nothing).
create table domains.registrar_calls (
    id bigint generated always as identity primary key,
    order_id uuid not null references public.domain_orders (id),
    command text not null constraint registrar_calls_command_check
    check (command in ('namecheap.domains.create', 'namecheap.domains.renew')),
    state text not null constraint registrar_calls_state_check
    check (state in ('submitting', 'succeeded', 'failed', 'unknown', 'absent')),
    worker text constraint registrar_calls_worker_check check (char_length(worker) <= 100),
    error_number text constraint registrar_calls_error_check check (char_length(error_number) <= 20),
    detail jsonb not null default '{}'::jsonb
    constraint registrar_calls_detail_check check (jsonb_typeof(detail) = 'object'),
    started_at timestamptz not null,
    finished_at timestamptz,
    constraint registrar_calls_finished_check check ((state = 'submitting') = (finished_at is null))
);
-- The never-twice rule: per order, at most one create (or renew) that is in flight, unresolved or done.
create unique index registrar_calls_one_create on domains.registrar_calls (order_id)
where state in ('submitting', 'unknown', 'succeeded');

-- Payments are a plan payment or a domain payment.
alter table public.payments add column purpose text not null default 'plan'
constraint payments_purpose_check check (purpose in ('plan', 'domain'));
-- Domain payments have no plan; the check below keeps plan payments' plan required.
-- squawk-ignore ban-drop-not-null
alter table public.payments alter column plan drop not null;
-- squawk-ignore constraint-missing-not-valid
alter table public.payments add constraint payments_purpose_plan_check check ((purpose = 'plan') = (plan is not null));

-- The domains of a project: how it came (registered here or connected), the step its setup
-- is at (machine-readable, with an Arabic message for the owner), and the job's bookkeeping.
alter table public.domains add column origin text not null default 'connected'
constraint domains_origin_check check (origin in ('registered', 'connected'));
alter table public.domains add column fqdn_unicode text constraint domains_fqdn_unicode_check
check (char_length(fqdn_unicode) between 3 and 253);
-- public.domains holds a row per custom domain (a handful per project): the lock is brief.
-- squawk-ignore disallowed-unique-constraint,adding-foreign-key-constraint
alter table public.domains add column order_id uuid unique references public.domain_orders (id);
alter table public.domains add column step text not null default 'vercel_add' constraint domains_step_check check (
    step in ('dns_hosts', 'vercel_add', 'vercel_verify', 'vercel_config', 'await_records', 'done', 'failed')
);
alter table public.domains add column step_message_ar text constraint domains_step_message_check
check (char_length(step_message_ar) <= 500);
alter table public.domains add column error_code text constraint domains_error_code_check
check (error_code ~ '^[A-Z]+_[0-9]{3}$');
alter table public.domains add column last_error text constraint domains_last_error_check
check (char_length(last_error) <= 500);
alter table public.domains add column next_check_at timestamptz;
alter table public.domains add column check_attempts integer not null default 0
constraint domains_check_attempts_check check (check_attempts >= 0);
alter table public.domains add column lease_until timestamptz;
alter table public.domains add column verify_deadline timestamptz;
alter table public.domains add column renewal_due boolean not null default false;
alter table public.domains add column lapsed boolean not null default false;
-- squawk-ignore require-concurrent-index-creation
create index domains_work on public.domains (next_check_at) where step not in ('done', 'failed');
-- squawk-ignore require-concurrent-index-creation
create index domains_expiry on public.domains (registration_expires_at) where registration_expires_at is not null;

alter table domains.settings enable row level security;
alter table domains.pricing enable row level security;
alter table domains.availability enable row level security;
alter table domains.call_budget enable row level security;
alter table domains.registrar_calls enable row level security;
alter table public.domain_contacts enable row level security;
alter table public.domain_quotes enable row level security;
alter table public.domain_orders enable row level security;

-- Owners read their own rows (policies/domain_*.sql); every write goes through functions.
grant select on public.domain_contacts, public.domain_quotes, public.domain_orders to authenticated, service_role;

-- What a violation answers. Only functions write these tables, so a broken rule is ours (SYS_001),
-- except the registrant contact the owner types (DOM_015). Every constraint this revision added to
-- the exposed tables is listed, so none is left unmapped.
insert into private.constraint_error_codes (table_name, constraint_name, code)
select
    r.relname as table_name,
    c.conname as constraint_name,
    case when r.relname = 'domain_contacts' and c.contype = 'c' then 'DOM_015' else 'SYS_001' end as code
from pg_catalog.pg_constraint as c
inner join pg_catalog.pg_class as r on c.conrelid = r.oid
where
    r.relnamespace = 'public'::regnamespace
    and c.contype in ('c', 'u', 'f')
    and not exists (
        select from private.constraint_error_codes as m
        where m.table_name = r.relname and m.constraint_name = c.conname
    );
