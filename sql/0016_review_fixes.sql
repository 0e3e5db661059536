-- A checkout's UPayments charge is created at most once. create-charge is not idempotent and
-- its answer (the track id and the link) can be lost: the service times out, or dies before
-- attach_checkout_charge. payments.charge_started_at is committed before the call
-- (payments.begin_charge); a retry of the checkout that finds it set and no link does not call
-- create-charge again: while the first call may still be running it answers PAY_005 (try again
-- shortly), afterwards the checkout is closed and answers PAY_012 (start a new checkout).
alter table public.payments add column charge_started_at timestamptz;

insert into public.error_codes (code, http_status, message_ar, message_en) values
(
    'PAY_012', 409, 'تعذر إكمال عملية الدفع هذه، ابدأ عملية دفع جديدة',
    'This checkout could not be completed: start a new checkout'
);
