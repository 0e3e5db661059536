-- Undoes 0013_domains (development only): domain payments and domain rows added by it must be
-- gone first (the plan check comes back). The functions in functions/domains go with it.
do $$
declare
    v_fn regprocedure;
begin
    for v_fn in
        select p.oid::regprocedure from pg_catalog.pg_proc as p
        inner join pg_catalog.pg_namespace as n on p.pronamespace = n.oid
        where n.nspname = 'domains'
            or (n.nspname = 'public' and p.proname in (
                'domain_search_prepare', 'domain_search_record', 'record_domain_pricing', 'create_domain_checkout',
                'set_domain_contact', 'take_registrar_call', 'claim_domain_order', 'begin_domain_create',
                'finish_domain_create', 'claim_domain_step', 'finish_domain_step', 'connect_domain',
                'remove_domain', 'move_domain', 'domain_status', 'run_domain_jobs', 'audit_domains',
                'domain_quote_price'
            ))
    loop
        execute format('drop function %s cascade', v_fn);
    end loop;
end
$$;
drop table domains.registrar_calls;
-- squawk-ignore require-concurrent-index-creation
drop index public.domains_expiry;
alter table public.domains drop column lapsed, drop column renewal_due, drop column verify_deadline,
drop column lease_until, drop column check_attempts, drop column next_check_at, drop column last_error,
drop column error_code, drop column step_message_ar, drop column step, drop column order_id,
drop column fqdn_unicode, drop column origin;
alter table public.payments drop constraint payments_purpose_plan_check;
alter table public.payments alter column plan set not null;
alter table public.payments drop column purpose;
drop table public.domain_orders;
drop table public.domain_quotes;
drop table public.domain_contacts;
drop table domains.call_budget;
drop table domains.availability;
drop table domains.pricing;
drop table domains.settings;
drop schema domains;
-- The error mapping of the constraints that went with the tables and columns above.
delete from private.constraint_error_codes as m
where not exists (
    select from pg_catalog.pg_constraint as c
    inner join pg_catalog.pg_class as r on c.conrelid = r.oid
    where r.relnamespace = 'public'::regnamespace and r.relname = m.table_name and c.conname = m.constraint_name
);
delete from public.error_codes
where code in (
    'DOM_002', 'DOM_003', 'DOM_004', 'DOM_005', 'DOM_006', 'DOM_007', 'DOM_008', 'DOM_009', 'DOM_010',
    'DOM_011', 'DOM_012', 'DOM_013', 'DOM_014', 'DOM_015', 'DOM_016'
);
