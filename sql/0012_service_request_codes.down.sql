-- Undoes 0012_service_request_codes.
delete from public.error_codes
where code in ('REQ_010', 'REQ_011', 'REQ_012', 'REQ_013', 'REQ_014', 'REQ_015', 'REQ_016', 'REQ_017');
