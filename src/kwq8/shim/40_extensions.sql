-- Supabase extensions that Debian packages too: created when their files are installed.
do $$
begin
    if exists (select from pg_available_extensions where name = 'plpgsql_check') then
        create extension if not exists plpgsql_check with schema extensions;
    end if;
    if exists (select from pg_available_extensions where name = 'pgtap') then
        create extension if not exists pgtap with schema extensions;
    end if;
    -- pg_cron lives in one database only (cron.database_name) and must be preloaded.
    if exists (select from pg_available_extensions where name = 'pg_cron')
        and current_setting('cron.database_name', true) = current_database()
        and 'pg_cron' = any(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))
        then
        create extension if not exists pg_cron with schema pg_catalog;
        grant usage on schema cron to postgres;
        grant all on all tables in schema cron to postgres;
        grant all on all sequences in schema cron to postgres;
    end if;
end
$$;
