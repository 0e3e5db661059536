-- 0004: payments and subscriptions. A customer pays for a plan through UPayments (K-Net or card,
-- KWD); the confirmed payment activates or extends the subscription, sets the user's plan and
-- grants the plan's monthly credits, once, however often UPayments calls back.
--
-- Rules that hold here whatever a caller sends:
--  * money is numeric(10,3) KWD (three decimals, fils), never a float;
--  * one subscription row per user; its period is prepaid (no card on file, no auto-charge):
--    paying while active extends it from the period end, paying after it ended starts anew;
--  * a payment is fulfilled at most once: its status moves to 'paid' once, and its credits are
--    granted under the idempotency key 'payment:<order_id>', which the ledger keeps unique;
--  * every provider notification is recorded once (unique on the provider's identity of the
--    event) in the same transaction as its effect;
--  * clients read their own payments and subscription and write nothing: every write goes
--    through the functions in functions/payments (SECURITY DEFINER in the `payments` schema,
--    executable by service_role only, except the Data API pre-request limiter).

create schema if not exists payments;
revoke all on schema payments from public;
-- The pre-request rate limiter runs as the request's role (anon or authenticated).
grant usage on schema payments to anon, authenticated, service_role;

insert into public.error_codes (code, http_status, message_ar, message_en) values
('PAY_002', 404, 'عملية الدفع غير موجودة', 'Payment not found'),
('PAY_003', 409, 'بيانات الدفع لا تطابق الطلب', 'Payment does not match the order (amount, currency or plan)'),
('PAY_004', 409, 'يمكنك الانتقال إلى باقة أقل عند انتهاء فترتك الحالية', 'Downgrades take effect at renewal'),
('PAY_005', 503, 'خدمة الدفع غير متاحة حالياً، حاول مرة أخرى', 'Payment provider unavailable, try again'),
('PAY_006', 401, 'توقيع إشعار الدفع غير صالح', 'Invalid payment notification signature'),
('SUB_001', 404, 'لا يوجد اشتراك فعال', 'No active subscription'),
('AUTH_005', 401, 'رمز الدخول غير صالح', 'Invalid access token'),
('AUTH_006', 503, 'تعذر التحقق من تسجيل الدخول حالياً', 'Sign-in verification unavailable'),
('RATE_001', 429, 'طلبات كثيرة، حاول بعد قليل', 'Too many requests'),
('REQ_001', 413, 'حجم الطلب كبير جداً', 'Request too large'),
('REQ_002', 404, 'الصفحة غير موجودة', 'Not found'),
('REQ_003', 405, 'الطريقة غير مسموحة', 'Method not allowed'),
('SYS_001', 500, 'حدث خطأ غير متوقع', 'Internal error'),
('SYS_002', 503, 'الخدمة غير متاحة مؤقتاً', 'Service temporarily unavailable');

-- Operator settings; one row.
create table payments.settings (
    id boolean primary key default true check (id),
    -- Smallest amount ever charged (a prorated upgrade near the period end costs at least this).
    min_charge_kwd numeric(10, 3) not null default 0.100 check (min_charge_kwd > 0),
    -- Pending checkouts older than this are closed by the job as cancelled ('abandoned'). A
    -- capture confirmed by UPayments later still counts: money received is always honoured.
    checkout_ttl interval not null default interval '24 hours' check (checkout_ttl > interval '0'),
    -- Monthly credits roll over only while the subscription continues: when it ends, what is
    -- left of them expires with it (purchases, promotions and refunds are untouched).
    expire_credits_with_subscription boolean not null default true,
    -- Data API write limits (payments.check_request, the pgrst.db_pre_request function).
    api_window_seconds integer not null default 60 check (api_window_seconds between 1 and 3600),
    api_user_writes_per_window integer not null default 120 check (api_user_writes_per_window > 0),
    api_ip_writes_per_window integer not null default 60 check (api_ip_writes_per_window > 0),
    -- Rate-limit counters older than this are deleted by the job.
    rate_limit_retention interval not null default interval '1 hour' check (rate_limit_retention > interval '0')
);
insert into payments.settings default values;

-- One row per checkout. order_id is ours, unique, sent to UPayments as order.id (at most 40
-- characters) and echoed back in its status answers.
create table public.payments (
    id uuid primary key default extensions.gen_random_uuid(),
    order_id text not null unique check (order_id ~ '^kwq8_[0-9a-f]{32}$'),
    user_id uuid not null references public.users (id) on delete restrict,
    plan text not null references public.plans (code),
    -- new: no active subscription; renewal: same plan while active (extends from the period
    -- end); upgrade: a dearer plan while active (prorated, see functions/payments/create_checkout.sql).
    kind text not null check (kind in ('new', 'renewal', 'upgrade')),
    amount_kwd numeric(10, 3) not null check (amount_kwd > 0),
    currency text not null default 'KWD' check (currency = 'KWD'),
    payment_method text check (payment_method in ('knet', 'cc')),
    status text not null default 'pending' check (status in ('pending', 'paid', 'failed', 'cancelled', 'refunded')),
    status_reason text check (char_length(status_reason) <= 500),
    -- What the payment delivered once paid: 'fulfilled', or 'needs_review' when the money
    -- arrived but the subscription had changed under it (an operator refunds or fixes it).
    fulfilment text check (fulfilment in ('fulfilled', 'needs_review')),
    -- The upgrade's basis, fixed at checkout: {from_plan, period_end, fraction, credits}.
    proration jsonb check (proration is null or jsonb_typeof(proration) = 'object'),
    credits_granted numeric(12, 2) check (credits_granted >= 0),
    -- UPayments' identities of the charge: track id (status lookups, webhooks) and payment id.
    track_id text unique check (char_length(track_id) between 1 and 255),
    provider_payment_id text check (char_length(provider_payment_id) between 1 and 255),
    payment_url text check (char_length(payment_url) between 1 and 2000),
    last_error text check (char_length(last_error) <= 500),
    idempotency_key text not null check (char_length(idempotency_key) between 1 and 255),
    request_fingerprint text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    paid_at timestamptz,
    closed_at timestamptz,
    check ((status = 'paid' or status = 'refunded') = (paid_at is not null)),
    check ((status in ('failed', 'cancelled')) = (closed_at is not null)),
    check ((status in ('paid', 'refunded')) = (fulfilment is not null)),
    check ((kind = 'upgrade') = (proration is not null))
);
create unique index payments_idempotency on public.payments (user_id, idempotency_key);
-- A user's payments, newest first (also the index behind the foreign key).
create index payments_user_created on public.payments (user_id, created_at desc);
-- The job closes abandoned checkouts.
create index payments_pending on public.payments (created_at) where status = 'pending';

-- The user's subscription: one row per user, reused when a lapsed subscription restarts.
create table public.subscriptions (
    id uuid primary key default extensions.gen_random_uuid(),
    user_id uuid not null unique references public.users (id) on delete restrict,
    plan text not null references public.plans (code),
    status text not null check (status in ('active', 'expired', 'cancelled')),
    current_period_start timestamptz not null,
    current_period_end timestamptz not null,
    -- The customer does not mean to renew; at the period end the status becomes 'cancelled'
    -- rather than 'expired'. Paying again clears it.
    cancel_at_period_end boolean not null default false,
    last_payment_id uuid references public.payments (id),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    ended_at timestamptz,
    check (current_period_start < current_period_end),
    check ((status = 'active') = (ended_at is null))
);
-- The job finds active subscriptions whose period has ended.
create index subscriptions_active_end on public.subscriptions (current_period_end) where status = 'active';
create index subscriptions_last_payment on public.subscriptions (last_payment_id);

-- Every provider notification, once. event_key is the provider's identity of the event: the
-- track id and the result it announced ('<track_id>:CAPTURED'), so a redelivery finds its row.
-- `final` events are never processed again; a non-final one (the status check did not settle
-- it yet, e.g. still PENDING) is re-checked when the provider delivers it again.
create table payments.provider_events (
    id bigint generated always as identity primary key,
    provider text not null check (provider in ('upayments')),
    event_key text not null check (char_length(event_key) between 1 and 320),
    track_id text not null check (char_length(track_id) between 1 and 255),
    payment_id uuid references public.payments (id),
    notified_result text check (char_length(notified_result) <= 50),
    verified_result text check (char_length(verified_result) <= 50),
    -- applied: the payment became paid and was fulfilled; needs_review: paid, not fulfilled;
    -- failed / cancelled: the payment closed; late: the payment was already settled, nothing
    -- changed; mismatch: the status answer did not bind to the order; pending: not settled yet.
    outcome text not null
    check (outcome in ('applied', 'needs_review', 'failed', 'cancelled', 'late', 'mismatch', 'pending')),
    -- The webhook said one thing and the status check another.
    status_disagrees boolean not null default false,
    final boolean not null,
    deliveries integer not null default 1 check (deliveries > 0),
    payload jsonb not null default '{}'::jsonb,
    status_payload jsonb,
    received_at timestamptz not null default now(),
    processed_at timestamptz not null default now(),
    unique (provider, event_key)
);
create index provider_events_payment on payments.provider_events (payment_id);

-- Fixed-window request counters shared by every service instance and the Data API limiter.
create table payments.rate_limits (
    bucket text not null check (char_length(bucket) between 1 and 200),
    window_start timestamptz not null,
    hits integer not null check (hits > 0),
    primary key (bucket, window_start)
);
create index rate_limits_window on payments.rate_limits (window_start);

alter table payments.settings enable row level security;
alter table public.payments enable row level security;
alter table public.subscriptions enable row level security;
alter table payments.provider_events enable row level security;
alter table payments.rate_limits enable row level security;

-- Owners read their own rows (policies/payments.sql, policies/subscriptions.sql); nobody
-- writes through the API. Provider events, counters and settings have no client grants.
grant select on public.payments, public.subscriptions to authenticated, service_role;

-- The job every few minutes, where pg_cron is installed (the local stack's postgres database,
-- Supabase projects with the extension enabled). Elsewhere run `kwq8 jobs run` from a scheduler.
do $$
begin
    if exists (select from pg_catalog.pg_extension where extname = 'pg_cron') then
        perform cron.schedule('kwq8-payments-jobs', '*/5 * * * *', 'select payments.run_jobs()');
    end if;
end
$$;
