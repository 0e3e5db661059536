-- 0018: the rate limiter has a schema of its own, ratelimit. It serves the Data API (the
-- pre-request write limiter, the caps on anonymous submissions) and the billing service (the
-- fixed-window counters), so its counters and settings are not the payments' business.
--  * payments.rate_limits and the count-min sketch's sequences move with their data, so no
--    counter restarts; the limiter's settings move to the one-row ratelimit.settings with their
--    values (the visitor-key secret too, so visitors keep their keys).
--  * payments.settings keeps what payments read: prices, checkouts, renewals, reconciliation
--    and the UPayments status-call budget.
--  * pgrst.db_pre_request names ratelimit.check_request from here on.
--  * The limiter's functions are dropped under their payments names; the function files in
--    functions/ratelimit create them in the new schema.
--  * Every public RPC calls the function of the same name in its own schema (public.X calls
--    <schema>.X; tests/toolkit/test_naming_rule.py holds every RPC to it): the cores named otherwise are
--    dropped here and created under their RPC's name by their function files, and the payments
--    job, which pg_cron calls directly, is payments.run_payment_jobs from here on.

create schema if not exists ratelimit;
revoke all on schema ratelimit from public;
-- PostgREST runs the pre-request limiter as the request's role (anon or authenticated).
grant usage on schema ratelimit to anon, authenticated, service_role;

-- No client calls these by their old names: the schemas are not exposed, and the public
-- wrappers come back in this transaction, calling the new names.
-- squawk-ignore ban-drop-function
drop function if exists payments.check_request(), payments.client_address(), payments.visitor_key(uuid),
payments.hit_rate_limit(text, integer, integer), public.hit_rate_limit(text, integer, integer),
payments.take_status_call(text), public.take_status_call(text);

-- squawk-ignore ban-drop-function
drop function if exists billing.capture(uuid, numeric), billing.summary_for_caller(), billing.usage_for_caller(integer),
billing.hold_for_caller(uuid), billing.refund(uuid, text, text), billing.release(uuid, text),
billing.reserve_for_caller(text, text), billing.spend_for_caller(text, text, text),
billing.deduct(uuid, numeric, text, text), domains.set_contact_for_caller(jsonb),
payments.attach_charge(text, text, text), payments.record_charge_error(text, text),
payments.lookup_event(text, text, text, text), payments.run_jobs();

-- The job under its new name, where 0004 or 0015 scheduled it (pg_cron only lets a job's owner
-- change it, through cron.alter_job).
do $$
declare
    v_job bigint;
begin
    if exists (select from pg_catalog.pg_extension where extname = 'pg_cron') then
        select j.jobid into v_job from cron.job as j
        where j.jobname = 'kwq8-payments-jobs' and j.username = current_user and j.command = 'select payments.run_jobs()';
        if v_job is not null then
            perform cron.alter_job(v_job, command => 'select payments.run_payment_jobs()');
        end if;
    end if;
end
$$;

-- Only the limiter's and the job's functions read these, and they are replaced in this transaction.
-- squawk-ignore ban-set-schema
alter table payments.rate_limits set schema ratelimit;
do $$
begin
    for i in 0..1023 loop
        execute format('alter sequence private.api_hits_%s set schema ratelimit', i);
    end loop;
end
$$;

-- Operator settings of the limiter; one row. The columns, checks and values are those of
-- payments.settings before this revision; docs/data-api-limits.md explains them.
create table ratelimit.settings (
    id boolean primary key default true check (id),
    api_window_seconds integer not null default 60 check (api_window_seconds between 1 and 3600),
    api_user_writes_per_window integer not null default 120 check (api_user_writes_per_window > 0),
    api_ip_writes_per_window integer not null default 60 check (api_ip_writes_per_window > 0),
    api_trusted_proxy_hops integer not null default 1 check (api_trusted_proxy_hops between 1 and 10),
    api_client_ip_header text check (api_client_ip_header ~ '^[a-z0-9-]{1,64}$'),
    anon_bookings_per_hour integer not null default 30 check (anon_bookings_per_hour between 0 and 100000),
    anon_messages_per_hour integer not null default 30 check (anon_messages_per_hour between 0 and 100000),
    anon_submissions_max_per_hour integer not null default 500
    check (anon_submissions_max_per_hour between 0 and 100000),
    anon_submissions_per_visitor integer not null default 5 check (anon_submissions_per_visitor between 1 and 100000),
    duplicate_window interval not null default interval '10 minutes'
    check (duplicate_window between interval '0' and interval '1 day'),
    visitor_key_secret bytea not null default extensions.gen_random_bytes(32),
    -- Counters older than this are deleted by the job.
    rate_limit_retention interval not null default interval '1 hour' check (rate_limit_retention > interval '0')
);
insert into ratelimit.settings (
    id, api_window_seconds, api_user_writes_per_window, api_ip_writes_per_window, api_trusted_proxy_hops,
    api_client_ip_header, anon_bookings_per_hour, anon_messages_per_hour, anon_submissions_max_per_hour,
    anon_submissions_per_visitor, duplicate_window, visitor_key_secret, rate_limit_retention
)
select
    s.id,
    s.api_window_seconds,
    s.api_user_writes_per_window,
    s.api_ip_writes_per_window,
    s.api_trusted_proxy_hops,
    s.api_client_ip_header,
    s.anon_bookings_per_hour,
    s.anon_messages_per_hour,
    s.anon_submissions_max_per_hour,
    s.anon_submissions_per_visitor,
    s.duplicate_window,
    s.visitor_key_secret,
    s.rate_limit_retention
from payments.settings as s;
-- Counters and settings have no client grants.
alter table ratelimit.settings enable row level security;

-- Their values are in ratelimit.settings now; only the limiter's functions read them (one
-- directive for the twelve columns of this one statement).
-- squawk-ignore-file ban-drop-column
alter table payments.settings drop column api_window_seconds, drop column api_user_writes_per_window,
drop column api_ip_writes_per_window, drop column api_trusted_proxy_hops, drop column api_client_ip_header,
drop column anon_bookings_per_hour, drop column anon_messages_per_hour, drop column anon_submissions_max_per_hour,
drop column anon_submissions_per_visitor, drop column duplicate_window, drop column visitor_key_secret,
drop column rate_limit_retention;

-- For this database only, as 0011 did; PostgREST picks it up on `notify pgrst, 'reload config'`.
do $$
begin
    execute format(
        'alter role authenticator in database %I set pgrst.db_pre_request = %L',
        current_database(), 'ratelimit.check_request'
    );
end
$$;
notify pgrst, 'reload config';
