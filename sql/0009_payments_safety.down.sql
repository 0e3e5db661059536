-- Undoes 0009_payments_safety.
delete from public.error_codes
where code in ('CREDIT_015');
