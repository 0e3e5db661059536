-- A phone number as people type it, in E.164 where it can tell: separators (spaces, dots,
-- dashes, brackets) dropped, Arabic-Indic digits made ASCII, 00 prefixes made +, and a bare
-- Kuwaiti number (8 digits starting 2, 5, 6 or 9) given +965. Anything else is returned as
-- cleaned, for the column's check constraint to refuse.
create or replace function private.normalize_phone(p_phone text)
returns text
language sql
immutable
set search_path = ''
as $$
    select case
        when s.cleaned ~ '^00[1-9]' then '+' || substr(s.cleaned, 3)
        when s.cleaned ~ '^[2569][0-9]{7}$' then '+965' || s.cleaned
        else s.cleaned
    end
    from (
        select regexp_replace(
            translate(p_phone, '٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹', '01234567890123456789'), '[[:space:]().-]', '', 'g'
        ) as cleaned
    ) as s
$$;

revoke all on function private.normalize_phone(text) from public;
grant execute on function private.normalize_phone(text) to anon, authenticated, service_role;
