-- Undoes 0009_payments_safety. Payments in 'needs_review' must be resolved first (the old
-- status check refuses them).
drop table if exists payments.refunds;
alter table payments.provider_events drop constraint provider_events_outcome_check;
alter table payments.provider_events add constraint provider_events_outcome_check
check (outcome in ('applied', 'needs_review', 'failed', 'cancelled', 'late', 'mismatch', 'pending'));
alter table payments.settings drop column renewal_grace, drop column reconcile_min_age, drop column reconcile_interval,
drop column reconcile_window, drop column status_calls_reserved, drop column status_calls_per_minute;
drop index if exists public.payments_unsettled;
alter table public.payments drop column period_end, drop column period_start, drop column checked_result,
drop column checked_at, drop column captured_currency,
drop column captured_amount_kwd;
alter table public.payments drop constraint payments_fulfilment_state;
alter table public.payments add constraint payments_check2
check ((status in ('paid', 'refunded')) = (fulfilment is not null));
alter table public.payments drop constraint payments_captured_at;
alter table public.payments add constraint payments_check
check ((status = 'paid' or status = 'refunded') = (paid_at is not null));
alter table public.payments drop constraint payments_status_check;
alter table public.payments add constraint payments_status_check
check (status in ('pending', 'paid', 'failed', 'cancelled', 'refunded'));
delete from public.error_codes
where code in ('CREDIT_015', 'PAY_007', 'PAY_009', 'PAY_010');
