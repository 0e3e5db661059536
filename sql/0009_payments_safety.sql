-- 0009: payments money-safety. Keys chosen by trusted servers get their own namespace in the
-- ledger (functions/billing/validation.sql: billing.server_key), and browser calls that try to
-- use it are refused with CREDIT_015.

insert into public.error_codes (code, http_status, message_ar, message_en) values
('CREDIT_015', 400, 'مفتاح الطلب محجوز', 'Idempotency key is reserved for trusted servers');
