-- Undoes 0008_input_hygiene.
delete from public.error_codes
where code in ('VAL_002');
