-- Extensions of a fresh hosted project beyond pgcrypto and uuid-ossp (10_database.sql):
-- pg_stat_statements in `extensions`, which `supabase inspect db` reads. plpgsql_check and pgTAP
-- are not installed here: the test plugin adds them to test databases only, and `kwq8 db
-- migrate` lends plpgsql_check to the local stack for the length of a migration.
do $$
begin
    if exists (select from pg_available_extensions where name = 'pg_stat_statements')
        and 'pg_stat_statements' = any(
            string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')
        ) then
        create extension if not exists pg_stat_statements with schema extensions;
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
