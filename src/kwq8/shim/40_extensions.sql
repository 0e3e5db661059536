-- Extensions of a fresh hosted project beyond pgcrypto and uuid-ossp (10_database.sql):
-- pg_stat_statements in `extensions`, which `supabase inspect db` reads. Nothing else: pg_cron is
-- created by the project's own migration (sql/*_pg_cron.sql, as `postgres`: 45_privileged_extensions.sql),
-- plpgsql_check and pgTAP by the test plugin in test databases only, and `kwq8 db migrate` lends
-- plpgsql_check to the local stack for the length of a migration.
do $$
begin
    if exists (select from pg_available_extensions where name = 'pg_stat_statements')
        and 'pg_stat_statements' = any(
            string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')
        ) then
        create extension if not exists pg_stat_statements with schema extensions;
    end if;
end
$$;
