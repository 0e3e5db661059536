-- Undoes 0016_review_fixes (development only).
drop function if exists payments.begin_charge(text);
delete from public.error_codes
where code = 'PAY_012';
alter table public.payments drop column charge_started_at;
