-- Undoes 0015_pg_cron: the job, then pg_cron itself unless jobs other than the project's are
-- scheduled on it (someone else's use of the extension, which 0016 did not create for them).
do $$
begin
    if not exists (select from pg_catalog.pg_extension where extname = 'pg_cron') then
        return;
    end if;
    if exists (select from cron.job where jobname = 'kwq8-payments-jobs') then
        perform cron.unschedule('kwq8-payments-jobs');
    end if;
    if exists (select from cron.job) then
        raise notice 'pg_cron is kept: other jobs are scheduled on it';
        return;
    end if;
    drop extension pg_cron;
end
$$;
