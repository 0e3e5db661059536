-- supautils runs some statements of the privileged role `postgres` with rights it does not hold
-- (policy_grants, privileged_extensions). The shim lends those rights from event triggers, one
-- statement at a time: lent when the statement starts and taken back before it ends, inside its
-- transaction, so the loan is never committed (a failing statement rolls it back with itself)
-- and no other session ever sees it.
create schema if not exists kwq8_shim authorization supabase_admin;
revoke all on schema kwq8_shim from public;
grant usage on schema kwq8_shim to postgres;

-- p_what: 'superuser' (the attribute, for privileged extensions) or the owner role of a
-- service's tables (membership, for policy statements).
create or replace function kwq8_shim.lend(p_what text, p_lend boolean) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    _flag text := 'kwq8_shim.lent_' || p_what;
begin
    if p_what not in ('superuser', 'supabase_storage_admin') then
        raise exception 'kwq8_shim.lend: % is not lent', p_what using errcode = '42501';
    end if;
    if p_lend then
        if current_setting(_flag, true) = 'on' then
            return;
        end if;
        if p_what = 'superuser' then
            if (select rolsuper from pg_catalog.pg_roles where rolname = 'postgres') then
                return;
            end if;
            alter role postgres superuser;
        else
            if pg_catalog.pg_has_role('postgres', p_what, 'member') then
                return;
            end if;
            execute format('grant %I to postgres', p_what);
        end if;
        perform set_config(_flag, 'on', true);
    elsif current_setting(_flag, true) = 'on' then
        if p_what = 'superuser' then
            alter role postgres nosuperuser;
        else
            execute format('revoke %I from postgres', p_what);
        end if;
        perform set_config(_flag, '', true);
    end if;
end
$$;
revoke all on function kwq8_shim.lend(text, boolean) from public;
grant execute on function kwq8_shim.lend(text, boolean) to postgres;
