-- 0012: error codes of the billing service's request parsing and browser access. Every body is
-- parsed strictly (one content type, UTF-8 without BOM, no duplicate keys, bounded nesting, finite
-- numbers), headers are capped, and cross-origin preflights from origins outside the allow-list
-- are refused with a catalogued code rather than a framework's plain-text answer.
insert into public.error_codes (code, http_status, message_ar, message_en) values
('REQ_010', 400, 'نص الطلب ليس JSON صالحاً', 'Malformed JSON body'),
('REQ_011', 415, 'نوع محتوى الطلب غير مدعوم', 'Unsupported content type'),
('REQ_012', 400, 'الحقل مكرر في نص الطلب', 'Duplicate JSON key'),
('REQ_013', 400, 'نص الطلب متداخل بعمق كبير', 'JSON nested too deeply'),
('REQ_014', 400, 'نص الطلب ليس نصاً صالحاً بترميز UTF-8', 'Body is not valid UTF-8 text'),
('REQ_015', 400, 'رقم غير صالح في نص الطلب', 'Number out of range'),
('REQ_016', 431, 'ترويسات الطلب كبيرة جداً', 'Request headers too large'),
('REQ_017', 403, 'مصدر الطلب غير مسموح', 'Origin not allowed');
