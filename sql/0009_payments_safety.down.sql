-- Undoes 0009_payments_safety (development only). Payments in 'needs_review' must be resolved
-- first (the old status check refuses them). The functions added with it go too; the function
-- files of the matching older tree must be applied again by `kwq8 db migrate` afterwards.
drop function if exists payments.take_back(public.payments, payments.refunds, text),
payments.refund_json(payments.refunds, text), payments.record_provider_refund(public.payments, text),
payments.request_refund(text, text), payments.refund_batch(integer), payments.begin_refund(uuid, text),
payments.finish_refund(uuid, text, jsonb, text), public.request_refund(text, text),
public.refund_batch(integer), public.begin_refund(uuid, text), public.finish_refund(uuid, text, jsonb, text),
payments.reconcile_candidates(integer), payments.record_status_check(text, jsonb),
public.reconcile_candidates(integer), public.record_status_check(text, jsonb),
payments.take_status_call(text), public.take_status_call(text), payments.audit_payments(),
payments.apply_status(public.payments, text, jsonb, boolean, boolean);
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
