-- 0008: error codes of input hygiene. Text that no person types (NUL and other control
-- characters, line breaks and tabs aside) is refused at the edge, in the billing service and in
-- every RPC text argument, with a validation code instead of a database error.
insert into public.error_codes (code, http_status, message_ar, message_en) values
('VAL_002', 400, 'البيانات المدخلة تحتوي على رموز غير مسموح بها', 'Input contains control characters');
