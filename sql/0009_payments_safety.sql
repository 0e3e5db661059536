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
('PAY_008', 409, 'لا تحتاج عملية الدفع هذه إلى مراجعة', 'Payment is not awaiting review');

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

-- What UPayments reported capturing (set for every recorded capture, so a mismatch is visible),
-- and the last reconciliation check: when, and the result it saw.
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
