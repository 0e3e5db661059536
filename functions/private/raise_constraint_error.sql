-- Check a row against the check constraints of its table before it is stored, and refuse a
-- violation with the code private.constraint_error_codes maps it to (Arabic message, HTTP
-- status), not with the raw 23514 error PostgREST would otherwise pass to the browser in
-- English. Attached as <table>_validate to the tables clients write directly; it fires after
-- their prepare triggers (names sort), so it sees the row as it will be stored, and before the
-- RLS checks, which is harmless: a check constraint reads nothing but the row itself. Unique
-- and foreign key violations depend on other rows, which a caller may not see: those keep
-- their 23505/23503 errors naming the constraint, and toKwq8Error maps them with the same
-- table (generated into types/errors.ts). The constraints stay the guarantee either way.
-- SECURITY DEFINER so that visitors (anon) may read the mapping.
create or replace function private.raise_constraint_error()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
-- The dynamic SQL runs check expressions read from pg_constraint, never text from a caller.
-- @plpgsql_check_options: security_warnings = false
declare
    v_cases text;
    v_broken text;
begin
    -- One CASE over every mapped check, evaluated once against the row: the first broken one
    -- (in name order) answers. A check passes unless it is false (null passes, as in the
    -- constraint itself).
    select pg_catalog.string_agg(
        format('when (%s) is false then %L', pg_catalog.pg_get_expr(c.conbin, c.conrelid), c.conname || ' ' || m.code),
        ' ' order by c.conname
    )
    into v_cases
    from pg_catalog.pg_constraint as c
    join private.constraint_error_codes as m on m.table_name = tg_table_name and m.constraint_name = c.conname
    where c.conrelid = tg_relid and c.contype = 'c';
    if v_cases is null then
        return new;
    end if;
    execute format('select case %s end from (select ($1).*) as r', v_cases) into v_broken using new;
    if v_broken is not null then
        perform private.raise_error(
            split_part(v_broken, ' ', 2), format('%s violates %s', tg_table_name, split_part(v_broken, ' ', 1))
        );
    end if;
    return new;
end
$$;

revoke all on function private.raise_constraint_error() from public;

drop trigger if exists projects_validate on public.projects;
create trigger projects_validate
before insert or update on public.projects
for each row execute function private.raise_constraint_error();

drop trigger if exists bookings_validate on public.bookings;
create trigger bookings_validate
before insert or update on public.bookings
for each row execute function private.raise_constraint_error();

drop trigger if exists contact_messages_validate on public.contact_messages;
create trigger contact_messages_validate
before insert or update on public.contact_messages
for each row execute function private.raise_constraint_error();
