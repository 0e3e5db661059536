-- Undoes 0004_payments (development only: it deletes every payment, subscription and provider
-- event). The functions in functions/payments go with the schema and the policies with their
-- tables: after upgrading again, functions/payments/*.sql and policies/payments.sql,
-- policies/subscriptions.sql must be applied again by `kwq8 db migrate`.
do $$
begin
    if exists (select from pg_catalog.pg_extension where extname = 'pg_cron') then
        if exists (select from cron.job where jobname = 'kwq8-payments-jobs') then
            perform cron.unschedule('kwq8-payments-jobs');
        end if;
    end if;
end
$$;
drop table if exists payments.rate_limits, payments.provider_events, public.subscriptions, public.payments,
payments.settings cascade;
drop schema if exists payments cascade;
delete from public.error_codes
where code in (
    'PAY_002', 'PAY_003', 'PAY_004', 'PAY_005', 'PAY_006', 'SUB_001', 'AUTH_005', 'AUTH_006', 'RATE_001', 'REQ_001',
    'REQ_002', 'REQ_003', 'SYS_001', 'SYS_002'
);
