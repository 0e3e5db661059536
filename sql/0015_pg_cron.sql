-- 0015: pg_cron, created by the project itself (Supabase's own way: `create extension pg_cron
-- with schema pg_catalog`, which supautils lets `postgres` run), and the project's job on it:
-- payments.run_jobs() every 5 minutes (renewals, expiries, domain bookkeeping), under the name
-- 0004 gave it. pg_cron runs in one database of a server only (cron.database_name, `postgres` on
-- Supabase and on the local stack), and must be preloaded. Where the server has no pg_cron at all,
-- or this is not its cron database, nothing is created and a notice says so: run `kwq8 jobs run`
-- from a scheduler there. A server that ships pg_cron without preloading it fails here, with
-- pg_cron's own message, rather than leave the job silently unscheduled.
do $$
begin
    if not exists (select from pg_catalog.pg_available_extensions where name = 'pg_cron') then
        raise notice 'pg_cron is not installed on this server: kwq8-payments-jobs is not scheduled'
        using hint = 'run `kwq8 jobs run` from a scheduler every 5 minutes';
        return;
    end if;
    if current_setting('cron.database_name', true) is distinct from current_database()
        and current_setting('cron.database_name', true) is not null then
        raise notice 'pg_cron runs in database %, not in %: kwq8-payments-jobs is not scheduled here',
        current_setting('cron.database_name'), current_database()
        using hint = 'run `kwq8 jobs run` from a scheduler every 5 minutes';
        return;
    end if;
    create extension if not exists pg_cron with schema pg_catalog;
    perform cron.schedule('kwq8-payments-jobs', '*/5 * * * *', 'select payments.run_jobs()');
end
$$;
