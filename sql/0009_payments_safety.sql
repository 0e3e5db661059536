-- 0009: payments money-safety.
--  * Keys chosen by trusted servers get their own namespace in the ledger ('srv:', see
--    billing.server_key); browser calls that try to use it are refused with CREDIT_015.
--  * Captured money is never closed: a capture that does not match its order (amount or
--    currency) makes the payment 'needs_review' (an operator refunds or accepts it), and a
--    pending payment with a track id is closed only after get-payment-status said it was not
--    captured (the reconciliation job, payments.record_status_check).
--  * get-payment-status is capped merchant-wide (UPayments allows 30 calls a minute) by a
--    counter in Postgres that every service instance and job shares (payments.take_status_call).

insert into public.error_codes (code, http_status, message_ar, message_en) values
('CREDIT_015', 400, 'مفتاح الطلب محجوز', 'Idempotency key is reserved for trusted servers'),
('PAY_007', 503, 'تم تجاوز حد الاستعلام عن حالة الدفع، حاول بعد قليل', 'Payment status checks are rate limited'),
('PAY_009', 409, 'لا يمكن استرداد عملية الدفع هذه', 'Payment cannot be refunded'),
('PAY_010', 404, 'طلب الاسترداد غير موجود', 'Refund not found');

-- Each replaced check is added in the same transaction as its drop, so no moment goes unguarded;
-- public.payments holds one row per checkout, so the validating scan is short.
-- squawk-ignore ban-drop-constraint
alter table public.payments drop constraint payments_status_check;
-- squawk-ignore constraint-missing-not-valid
alter table public.payments add constraint payments_status_check
check (status in ('pending', 'paid', 'failed', 'cancelled', 'refunded', 'needs_review'));
-- paid_at is when the capture was recorded: paid, refunded and needs_review payments have one.
-- squawk-ignore ban-drop-constraint
alter table public.payments drop constraint payments_check;
-- squawk-ignore constraint-missing-not-valid
alter table public.payments add constraint payments_captured_at
check ((status in ('paid', 'refunded', 'needs_review')) = (paid_at is not null));
-- A paid payment says what it delivered; an open or closed-unpaid one delivered nothing.
-- squawk-ignore ban-drop-constraint
alter table public.payments drop constraint payments_check2;
-- squawk-ignore constraint-missing-not-valid
alter table public.payments add constraint payments_fulfilment_state
check (
    (status <> 'paid' or fulfilment is not null)
    and (status not in ('pending', 'failed', 'cancelled') or fulfilment is null)
);

-- The period a fulfilled payment bought (a refund takes it back); what UPayments reported
-- capturing (set for every recorded capture, so a mismatch is visible); and the last
-- reconciliation check: when, and the result it saw.
alter table public.payments add column period_start timestamptz;
alter table public.payments add column period_end timestamptz;
alter table public.payments add column captured_amount_kwd numeric(10, 3) check (captured_amount_kwd >= 0);
alter table public.payments add column captured_currency text check (char_length(captured_currency) <= 10);
alter table public.payments add column checked_at timestamptz;
alter table public.payments add column checked_result text check (char_length(checked_result) <= 50);

-- The reconciliation job's candidates: payments with a track id that are not settled as paid.
-- squawk-ignore require-concurrent-index-creation
create index payments_unsettled on public.payments (checked_at nulls first, created_at)
where status in ('pending', 'failed', 'cancelled') and track_id is not null;

alter table payments.settings add column status_calls_per_minute integer not null default 30
check (status_calls_per_minute between 1 and 1000);
-- Calls of each minute kept for webhooks and reconciliation; a customer's refresh may use the rest.
alter table payments.settings add column status_calls_reserved integer not null default 10
check (status_calls_reserved >= 0);
-- How long after checkout the job keeps re-checking an unsettled payment, and how often.
alter table payments.settings add column reconcile_window interval not null default interval '7 days'
check (reconcile_window > interval '0');
alter table payments.settings add column reconcile_interval interval not null default interval '1 hour'
check (reconcile_interval > interval '0');
-- A pending payment is first checked this long after checkout (the webhook usually settles it).
alter table payments.settings add column reconcile_min_age interval not null default interval '10 minutes'
check (reconcile_min_age >= interval '0');

-- A subscription whose period has ended stays active this long: a renewal paid within it
-- continues the period chain and keeps the rollover credits; after it the subscription ends
-- (in the user's own upkeep or the job, whichever comes first).
alter table payments.settings add column renewal_grace interval not null default interval '3 days'
check (renewal_grace >= interval '0');

-- Refunds and voids, one per payment (always of the whole captured amount). A refund we ask
-- for is a row before it is a request: 'requested', then 'submitting' (committed before
-- create-refund is called), then 'refunded', 'failed' (UPayments refused it) or 'needs_review'
-- (the outcome of the call is unknown: create-refund is never retried blind). A refund or void
-- UPayments reports on its own (status REFUND or VOIDED) is recorded directly as 'refunded'.
-- Completing one marks the payment refunded, takes back what is left of the credits granted
-- for it (the part already spent is recorded as the shortfall, never taken below zero) and
-- takes back the period or the upgrade it bought.
create table payments.refunds (
    id uuid primary key default extensions.gen_random_uuid(),
    payment_id uuid not null unique references public.payments (id),
    origin text not null check (origin in ('requested', 'provider')),
    amount_kwd numeric(10, 3) not null check (amount_kwd > 0),
    reason text not null check (char_length(reason) between 1 and 500),
    status text not null check (status in ('requested', 'submitting', 'refunded', 'failed', 'needs_review')),
    provider_refund_order_id text check (char_length(provider_refund_order_id) <= 255),
    provider_refund_id text check (char_length(provider_refund_id) <= 255),
    provider_refund_arn text check (char_length(provider_refund_arn) <= 255),
    last_error text check (char_length(last_error) <= 500),
    credits_clawed_back numeric(12, 2) check (credits_clawed_back >= 0),
    credits_shortfall numeric(12, 2) check (credits_shortfall >= 0),
    note text check (char_length(note) <= 500),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    completed_at timestamptz,
    check ((status = 'refunded') = (completed_at is not null)),
    check ((status = 'refunded') = (credits_clawed_back is not null and credits_shortfall is not null))
);
create index refunds_open on payments.refunds (created_at) where status in ('requested', 'submitting');
alter table payments.refunds enable row level security;

-- squawk-ignore ban-drop-constraint
alter table payments.provider_events drop constraint provider_events_outcome_check;
-- squawk-ignore constraint-missing-not-valid
alter table payments.provider_events add constraint provider_events_outcome_check
check (outcome in ('applied', 'needs_review', 'failed', 'cancelled', 'refunded', 'late', 'mismatch', 'pending'));
