-- Setting a domain up for its site, one resumable step at a time (public.domains.step), each
-- retried with backoff by the domain job and shown to the owner (status, step, Arabic message):
--   registered here: dns_hosts -> vercel_add -> vercel_verify -> vercel_config -> done
--   connected:       await_records (verify + config until they pass, or verify_deadline) -> done
-- A failed step ends in 'failed' with a DOM_ code.

create or replace function domains.step_message(p_step text)
returns text
language sql
immutable
set search_path = ''
as $$
    select case p_step
        when 'dns_hosts' then 'جارٍ إعداد سجلات DNS للنطاق'
        when 'vercel_add' then 'جارٍ ربط النطاق بموقعك'
        when 'vercel_verify' then 'جارٍ التحقق من ملكية النطاق'
        when 'vercel_config' then 'بانتظار انتشار سجلات DNS'
        when 'await_records' then 'أضف سجلات DNS الموضحة لدى مزود نطاقك، وسنتحقق منها تلقائياً'
        when 'done' then 'النطاق يعمل'
        when 'failed' then 'تعذر إعداد النطاق'
    end
$$;

create or replace function domains.status_of_step(p_step text)
returns text
language sql
immutable
set search_path = ''
as $$
    select case
        when p_step in ('dns_hosts', 'vercel_add') then 'pending'
        when p_step = 'done' then 'active'
        when p_step = 'failed' then 'failed'
        else 'verifying'
    end
$$;

-- Claim the next domain whose step is due, for one lease; null when there is none.
create or replace function domains.claim_domain(p_worker text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_domain public.domains;
begin
    select * into v_domain from public.domains as d
    where d.step not in ('done', 'failed') and (d.next_check_at is null or d.next_check_at <= now())
        and (d.lease_until is null or d.lease_until <= clock_timestamp())
    order by d.next_check_at nulls first
    limit 1
    for update skip locked;
    if not found then
        return null;
    end if;
    update public.domains
    set lease_until = clock_timestamp() + (select s.lease from domains.settings as s), updated_at = now()
    where id = v_domain.id
    returning * into v_domain;
    return jsonb_build_object(
        'domain_id', v_domain.id, 'fqdn', v_domain.fqdn, 'step', v_domain.step, 'origin', v_domain.origin,
        'attempts', v_domain.check_attempts, 'verify_deadline', v_domain.verify_deadline,
        'verification_records', v_domain.verification_records
    );
end
$$;

-- The outcome of a step: 'next' (go on to p_next), 'retry' (the same step after the backoff or
-- p_delay_s, e.g. Vercel's Retry-After) or 'fail' (p_code). A connected domain still waiting
-- past its verify_deadline fails with DOM_012. p_records replaces the DNS records the owner sees.
create or replace function domains.finish_step(
    p_domain uuid, p_step text, p_outcome text, p_next text, p_delay_s integer, p_records jsonb, p_code text,
    p_error text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_domain public.domains;
    v_step text;
    v_code text := p_code;
begin
    if p_outcome is null or p_outcome not in ('next', 'retry', 'fail') then
        perform private.raise_error('VAL_001', 'outcome must be next, retry or fail');
    end if;
    if p_records is not null and jsonb_typeof(p_records) <> 'array' then
        perform private.raise_error('VAL_001', 'records must be an array');
    end if;
    select * into v_domain from public.domains as d where d.id = p_domain for update;
    if not found then
        perform private.raise_error('DOM_014', format('no domain %s', p_domain));
    end if;
    if v_domain.step <> p_step then
        return jsonb_build_object('step', v_domain.step, 'status', v_domain.status, 'replay', true);
    end if;
    v_step := case p_outcome when 'next' then p_next when 'fail' then 'failed' else v_domain.step end;
    if p_outcome = 'retry' and v_domain.verify_deadline is not null and v_domain.verify_deadline <= now() then
        -- Still waiting for the owner's records at the deadline: verification failed.
        v_step := 'failed';
        v_code := 'DOM_012';
    end if;
    if v_step is null or v_step not in (
        'dns_hosts', 'vercel_add', 'vercel_verify', 'vercel_config', 'await_records', 'done', 'failed'
    ) then
        perform private.raise_error('VAL_001', format('unknown step %s', coalesce(v_step, 'null')));
    end if;
    update public.domains
    set step = v_step, status = domains.status_of_step(v_step), step_message_ar = domains.step_message(v_step),
        verified_at = case when v_step = 'done' then coalesce(verified_at, now()) else verified_at end,
        verification_records = coalesce(p_records, verification_records),
        error_code = case
            when v_step = 'failed' then coalesce(v_code, 'DOM_008')
            when p_outcome = 'retry' then v_code
        end,
        last_error = case when p_outcome = 'next' then null else left(p_error, 500) end,
        check_attempts = case when p_outcome = 'retry' then check_attempts + 1 else 0 end,
        next_check_at = case
            when v_step in ('done', 'failed') then null
            when p_outcome = 'retry' then now() + coalesce(make_interval(secs => p_delay_s), domains.backoff(check_attempts))
            else now()
        end,
        lease_until = null, updated_at = now()
    where id = v_domain.id
    returning * into v_domain;
    return jsonb_build_object('step', v_domain.step, 'status', v_domain.status, 'replay', false);
end
$$;

-- Before a domain is connected: the owner's project, and the name is on no project yet.
create or replace function domains.check_connect(p_user uuid, p_project uuid, p_fqdn text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    perform domains.require_fqdn(p_fqdn);
    if p_user is null or not exists (select from public.projects as p where p.id = p_project and p.user_id = p_user) then
        perform private.raise_error('DOM_014', 'no such project of this owner');
    end if;
    if exists (select from public.domains as d where d.fqdn = p_fqdn) then
        perform private.raise_error('DOM_009', format('%s is already connected to a project', p_fqdn));
    end if;
    return jsonb_build_object('fqdn', p_fqdn, 'project_id', p_project);
end
$$;

-- An owner's own domain, added to the Vercel project by the service: stored with the records
-- the owner must create; the job verifies it until verify_deadline (7 days).
create or replace function domains.connect_domain(
    p_user uuid, p_project uuid, p_fqdn text, p_unicode text, p_records jsonb, p_verified boolean
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_domain public.domains;
begin
    perform domains.check_connect(p_user, p_project, p_fqdn);
    perform domains.require_display_name(p_unicode, p_fqdn);
    if p_records is null or jsonb_typeof(p_records) <> 'array' then
        perform private.raise_error('VAL_001', 'records must be an array');
    end if;
    begin
        insert into public.domains (
            project_id, fqdn, fqdn_unicode, origin, status, step, step_message_ar, verification_records,
            verify_deadline, next_check_at
        )
        values (
            p_project, p_fqdn, coalesce(p_unicode, p_fqdn), 'connected', 'verifying', 'await_records',
            domains.step_message('await_records'), p_records,
            now() + (select s.verify_deadline from domains.settings as s),
            now() + case when p_verified then interval '0' else interval '1 minute' end
        )
        returning * into v_domain;
    exception
        when unique_violation then
            perform private.raise_error('DOM_009', format('%s is already connected to a project', p_fqdn));
    end;
    return domains.domain_json(v_domain);
end
$$;

create or replace function domains.domain_json(p_domain public.domains)
returns jsonb
language sql
immutable
set search_path = ''
as $$
    select jsonb_build_object(
        'domain_id', p_domain.id, 'project_id', p_domain.project_id, 'fqdn', p_domain.fqdn,
        'unicode', p_domain.fqdn_unicode, 'origin', p_domain.origin, 'status', p_domain.status,
        'step', p_domain.step, 'message_ar', p_domain.step_message_ar, 'error_code', p_domain.error_code,
        'records', p_domain.verification_records, 'verified_at', p_domain.verified_at,
        'verify_deadline', p_domain.verify_deadline, 'registration_expires_at', p_domain.registration_expires_at,
        'renewal_due', p_domain.renewal_due, 'lapsed', p_domain.lapsed
    )
$$;

-- An owner's domain by name (DOM_014 for anyone else's); p_user null: an operator's look-up.
create or replace function domains.owned_domain(p_user uuid, p_fqdn text)
returns public.domains
language plpgsql
stable
set search_path = ''
as $$
declare
    v_domain public.domains;
begin
    select d.* into v_domain from public.domains as d
    inner join public.projects as p on d.project_id = p.id
    where d.fqdn = p_fqdn and (p_user is null or p.user_id = p_user);
    if not found then
        perform private.raise_error('DOM_014', format('no domain %s', coalesce(p_fqdn, 'null')));
    end if;
    return v_domain;
end
$$;

create or replace function domains.domain_status(p_user uuid, p_fqdn text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select domains.domain_json(domains.owned_domain(p_user, p_fqdn)) || jsonb_build_object(
        'order', (
            select jsonb_build_object(
                'action', o.action, 'state', o.state, 'error_code', o.error_code, 'registered_at', o.registered_at
            )
            from public.domain_orders as o where o.fqdn = p_fqdn order by o.created_at desc limit 1
        )
    )
$$;

-- Move a domain to another project of the same owner. Every KWq8 site is served by the one
-- Vercel project, which routes by host name: nothing changes at Vercel.
create or replace function domains.move_domain(p_user uuid, p_fqdn text, p_project uuid)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_domain public.domains := domains.owned_domain(p_user, p_fqdn);
begin
    if p_user is null or not exists (select from public.projects as p where p.id = p_project and p.user_id = p_user) then
        perform private.raise_error('DOM_014', 'no such project of this owner');
    end if;
    update public.domains set project_id = p_project, updated_at = now() where id = v_domain.id
    returning * into v_domain;
    update public.domain_orders set project_id = p_project, updated_at = now()
    where id = v_domain.order_id;
    return domains.domain_json(v_domain);
end
$$;

-- Forget a domain the service has removed from the Vercel project. A registered domain stays
-- registered at Namecheap (the owner keeps it); its order keeps the history.
create or replace function domains.remove_domain(p_user uuid, p_fqdn text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_domain public.domains := domains.owned_domain(p_user, p_fqdn);
begin
    delete from public.domains where id = v_domain.id;
    return domains.domain_json(v_domain) || jsonb_build_object('removed', true);
end
$$;

revoke all on function domains.step_message(text), domains.status_of_step(text),
domains.domain_json(public.domains), domains.owned_domain(uuid, text) from public;
revoke all on function domains.claim_domain(text),
domains.finish_step(uuid, text, text, text, integer, jsonb, text, text), domains.check_connect(uuid, uuid, text),
domains.connect_domain(uuid, uuid, text, text, jsonb, boolean), domains.domain_status(uuid, text),
domains.move_domain(uuid, text, uuid), domains.remove_domain(uuid, text) from public;
grant execute on function domains.claim_domain(text),
domains.finish_step(uuid, text, text, text, integer, jsonb, text, text), domains.check_connect(uuid, uuid, text),
domains.connect_domain(uuid, uuid, text, text, jsonb, boolean), domains.domain_status(uuid, text),
domains.move_domain(uuid, text, uuid), domains.remove_domain(uuid, text) to service_role;
