-- Undoes 0018_ratelimit_schema (development only): the counters, sequences and settings go back
-- to payments and private with their data. The functions of the ratelimit schema go; the
-- function files of the older tree create the limiter again under its payments names
-- (`kwq8 db migrate`).
do $$
begin
    execute format(
        'alter role authenticator in database %I set pgrst.db_pre_request = %L',
        current_database(), 'payments.check_request'
    );
end
$$;
notify pgrst, 'reload config';

drop function if exists ratelimit.check_request(), ratelimit.client_address(), ratelimit.visitor_key(uuid),
ratelimit.hit_rate_limit(text, integer, integer);

-- The cores under their older names come back from the older tree's function files.
drop function if exists billing.capture_hold(uuid, numeric), billing.get_credit_summary(),
billing.get_credit_usage(integer),
billing.get_hold(uuid), billing.refund_transaction(uuid, text, text), billing.release_hold(uuid, text),
billing.reserve_credits(text, text), billing.spend_credits(text, text, text),
billing.deduct_credits(uuid, numeric, text, text), domains.set_domain_contact(jsonb),
payments.attach_checkout_charge(text, text, text), payments.record_checkout_error(text, text),
payments.lookup_payment_event(text, text, text, text), payments.run_payment_jobs();
do $$
declare
    v_job bigint;
begin
    if exists (select from pg_catalog.pg_extension where extname = 'pg_cron') then
        select j.jobid into v_job from cron.job as j
        where
            j.jobname = 'kwq8-payments-jobs' and j.username = current_user
            and j.command = 'select payments.run_payment_jobs()';
        if v_job is not null then
            perform cron.alter_job(v_job, command => 'select payments.run_jobs()');
        end if;
    end if;
end
$$;

-- squawk-ignore adding-field-with-default
alter table payments.settings
add column api_window_seconds integer not null default 60 check (api_window_seconds between 1 and 3600),
add column api_user_writes_per_window integer not null default 120 check (api_user_writes_per_window > 0),
add column api_ip_writes_per_window integer not null default 60 check (api_ip_writes_per_window > 0),
add column rate_limit_retention interval not null default interval '1 hour'
check (rate_limit_retention > interval '0'),
add column api_trusted_proxy_hops integer not null default 1 check (api_trusted_proxy_hops between 1 and 10),
add column api_client_ip_header text check (api_client_ip_header ~ '^[a-z0-9-]{1,64}$'),
add column anon_bookings_per_hour integer not null default 30 check (anon_bookings_per_hour between 0 and 100000),
add column anon_messages_per_hour integer not null default 30 check (anon_messages_per_hour between 0 and 100000),
add column anon_submissions_max_per_hour integer not null default 500
check (anon_submissions_max_per_hour between 0 and 100000),
add column anon_submissions_per_visitor integer not null default 5
check (anon_submissions_per_visitor between 1 and 100000),
add column duplicate_window interval not null default interval '10 minutes'
check (duplicate_window between interval '0' and interval '1 day'),
add column visitor_key_secret bytea not null default extensions.gen_random_bytes(32);
update payments.settings as p set
    api_window_seconds = r.api_window_seconds,
    api_user_writes_per_window = r.api_user_writes_per_window,
    api_ip_writes_per_window = r.api_ip_writes_per_window,
    rate_limit_retention = r.rate_limit_retention,
    api_trusted_proxy_hops = r.api_trusted_proxy_hops,
    api_client_ip_header = r.api_client_ip_header,
    anon_bookings_per_hour = r.anon_bookings_per_hour,
    anon_messages_per_hour = r.anon_messages_per_hour,
    anon_submissions_max_per_hour = r.anon_submissions_max_per_hour,
    anon_submissions_per_visitor = r.anon_submissions_per_visitor,
    duplicate_window = r.duplicate_window,
    visitor_key_secret = r.visitor_key_secret
from ratelimit.settings as r
where p.id = r.id;
drop table ratelimit.settings;

do $$
begin
    for i in 0..1023 loop
        execute format('alter sequence ratelimit.api_hits_%s set schema private', i);
    end loop;
end
$$;
alter table ratelimit.rate_limits set schema payments;
drop schema ratelimit;
