-- The registration job's steps (src/kwq8/domains/worker.py drives them), for registrations
-- (namecheap.domains.create) and renewals (namecheap.domains.renew) alike. Neither call is
-- idempotent, so each attempt is journalled: begin_create commits a 'submitting' call
-- before the request goes out (the unique index registrar_calls_one_create refuses a second
-- one while it is unresolved or succeeded), finish_create records what came back. A worker
-- that dies in between leaves 'submitting' behind its lease; whoever claims the order next
-- sees it, and asks getInfo (finish_reconcile) before anything is sent again.

-- The backoff of a retry: base * 2^attempts, at most max.
create or replace function domains.backoff(p_attempts integer)
returns interval
language sql
stable
set search_path = ''
as $$
    select least(s.backoff_base * power(2, least(greatest(p_attempts, 0), 16)), s.backoff_max)
    from domains.settings as s
$$;

-- Claim the next order that needs work, for one lease. Returns null when there is none, else
-- the order, the registrant contact and what to do: 'create' (send the order's command: register
-- or renew), or 'reconcile' when an earlier call has no known outcome (its worker died, or its
-- answer was unusable).
create or replace function domains.claim_order(p_worker text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_order public.domain_orders;
    v_quote public.domain_quotes;
    v_contact public.domain_contacts;
    v_open domains.registrar_calls;
begin
    if p_worker is null or char_length(p_worker) not between 1 and 100 then
        perform private.raise_error('VAL_001', 'worker must be 1-100 characters');
    end if;
    select * into v_order from public.domain_orders as o
    where o.state in ('queued', 'submitting', 'reconciling')
        and (o.next_attempt_at is null or o.next_attempt_at <= now())
        and (o.lease_until is null or o.lease_until <= clock_timestamp())
    order by o.next_attempt_at nulls first, o.created_at
    limit 1
    for update skip locked;
    if not found then
        return null;
    end if;
    -- A call still 'submitting' behind an expired lease was cut off: its outcome is unknown.
    update domains.registrar_calls
    set state = 'unknown', finished_at = clock_timestamp(),
        detail = detail || jsonb_build_object('note', 'worker lost before recording the answer')
    where order_id = v_order.id and state = 'submitting'
    returning * into v_open;
    if v_open.id is null then
        select * into v_open from domains.registrar_calls as c where c.order_id = v_order.id and c.state = 'unknown';
    end if;
    update public.domain_orders
    set lease_until = clock_timestamp() + (select s.lease from domains.settings as s), lease_owner = p_worker,
        attempts = attempts + 1, state = case when v_open.id is null then state else 'reconciling' end,
        updated_at = now()
    where id = v_order.id
    returning * into v_order;
    select * into v_quote from public.domain_quotes as q where q.id = v_order.quote_id;
    select * into v_contact from public.domain_contacts as c where c.user_id = v_order.user_id;
    return jsonb_build_object(
        'order_id', v_order.id,
        'fqdn', v_order.fqdn,
        'years', v_order.years,
        'attempts', v_order.attempts,
        'action', case when v_open.id is null then 'create' else 'reconcile' end,
        'command', v_order.action,
        'expires_before', v_order.expires_before,
        'call_id', v_open.id,
        'premium', v_quote.premium,
        'premium_usd', case when v_quote.premium then v_quote.usd_price end,
        'contact', to_jsonb(v_contact) - 'user_id' - 'updated_at'
    );
end
$$;

-- The lease is the worker's still: its order row, locked. Null when another worker has it.
create or replace function domains.leased_order(p_order uuid, p_worker text)
returns public.domain_orders
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_order public.domain_orders;
begin
    select * into v_order from public.domain_orders as o where o.id = p_order for update;
    if not found or v_order.lease_owner is distinct from p_worker or v_order.lease_until <= clock_timestamp() then
        return null;
    end if;
    return v_order;
end
$$;

-- Before domains.create is sent: the journal row, committed. Returns the call id, or null when
-- the lease was lost or a create is already in flight, unresolved or done (then nothing may be sent).
create or replace function domains.begin_create(p_order uuid, p_worker text)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_order public.domain_orders;
    v_call bigint;
begin
    v_order := domains.leased_order(p_order, p_worker);
    if v_order.id is null or v_order.state not in ('queued', 'reconciling') then
        return null;
    end if;
    begin
        insert into domains.registrar_calls (order_id, command, state, worker, started_at)
        values (
            v_order.id, case v_order.action when 'renew' then 'namecheap.domains.renew' else 'namecheap.domains.create' end,
            'submitting', p_worker, clock_timestamp()
        )
        returning id into v_call;
    exception
        when unique_violation then
            return null;
    end;
    update public.domain_orders set state = 'submitting', updated_at = now() where id = v_order.id;
    return v_call;
end
$$;

-- The order is registered: the journal agrees, and the project gets its domain row, whose
-- setup (DNS, Vercel) the domain job takes from here. A renewal extends the domain's expiry
-- (the registrar's new date when it gave one) and clears renewal_due and lapsed.
create or replace function domains.mark_registered(p_order public.domain_orders, p_call bigint, p_detail jsonb)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_quote public.domain_quotes;
begin
    update domains.registrar_calls
    set state = 'succeeded', finished_at = clock_timestamp(), detail = detail || coalesce(p_detail, '{}'::jsonb)
    where id = p_call;
    update public.domain_orders
    set state = 'registered', registered_at = now(), lease_until = null, lease_owner = null, next_attempt_at = null,
        error_code = null, last_error = null,
        registrar_domain_id = left(p_detail ->> 'domain_id', 100),
        registrar_order_id = left(p_detail ->> 'order_id', 100),
        charged_usd = nullif(p_detail ->> 'charged_usd', '')::numeric,
        updated_at = now()
    where id = p_order.id;
    if p_order.action = 'renew' then
        update public.domains
        set registration_expires_at = coalesce(
            nullif(p_detail ->> 'expires_at', '')::timestamptz, p_order.expires_before + make_interval(years => p_order.years)
        ),
            renewal_due = false, lapsed = false, updated_at = now()
        where fqdn = p_order.fqdn;
        return;
    end if;
    select * into v_quote from public.domain_quotes as q where q.id = p_order.quote_id;
    insert into public.domains (
        project_id, fqdn, fqdn_unicode, origin, order_id, status, step, step_message_ar, registrar,
        registrar_domain_id, registration_expires_at, next_check_at
    )
    values (
        p_order.project_id, p_order.fqdn, v_quote.fqdn_unicode, 'registered', p_order.id, 'pending', 'dns_hosts',
        domains.step_message('dns_hosts'), 'namecheap', left(p_detail ->> 'domain_id', 100),
        coalesce(nullif(p_detail ->> 'expires_at', '')::timestamptz, now() + make_interval(years => p_order.years)),
        now()
    )
    on conflict (fqdn) do nothing;
end
$$;

-- What domains.create answered: 'succeeded' (Registered="true"), 'failed' (a definitive
-- refusal: nothing was bought; the payment is refunded), 'throttled' (405 or a throttle page
-- before execution: nothing happened, try later) or 'unknown' (timeout, reset, 5xx, HTML,
-- unparseable: reconcile before anything else).
create or replace function domains.finish_create(
    p_call bigint, p_worker text, p_outcome text, p_detail jsonb, p_error_code text, p_error text
)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_call domains.registrar_calls;
    v_order public.domain_orders;
    v_payment public.payments;
begin
    if p_outcome is null or p_outcome not in ('succeeded', 'failed', 'throttled', 'unknown') then
        perform private.raise_error('VAL_001', 'outcome must be succeeded, failed, throttled or unknown');
    end if;
    select * into v_call from domains.registrar_calls as c where c.id = p_call;
    if not found then
        perform private.raise_error('DOM_014', format('no registrar call %s', p_call));
    end if;
    select * into v_payment from public.payments as p
    where p.id = (select o.payment_id from public.domain_orders as o where o.id = v_call.order_id);
    perform billing.lock_user(v_payment.user_id, billing.clock());
    select * into v_order from public.domain_orders as o where o.id = v_call.order_id for update;
    select * into v_call from domains.registrar_calls as c where c.id = p_call for update;
    -- Once another worker has declared this call unknown, only reconciliation decides.
    if v_call.state <> 'submitting' then
        return 'ignored';
    end if;
    if p_outcome = 'succeeded' then
        perform domains.mark_registered(v_order, v_call.id, p_detail);
    elsif p_outcome = 'failed' then
        update domains.registrar_calls
        set state = 'failed', finished_at = clock_timestamp(), error_number = left(p_detail ->> 'error_number', 20),
            detail = detail || coalesce(p_detail, '{}'::jsonb)
        where id = v_call.id;
        perform domains.fail_order(v_order, coalesce(p_error_code, 'DOM_007'), p_error);
    elsif p_outcome = 'throttled' then
        update domains.registrar_calls
        set state = 'absent', finished_at = clock_timestamp(), detail = detail || jsonb_build_object('note', 'throttled')
        where id = v_call.id;
        update public.domain_orders
        set state = 'queued', lease_until = null, lease_owner = null, next_attempt_at = now() + domains.backoff(0),
            last_error = left(p_error, 500), updated_at = now()
        where id = v_order.id;
    else
        update domains.registrar_calls
        set state = 'unknown', finished_at = clock_timestamp(), detail = detail || coalesce(p_detail, '{}'::jsonb)
            || jsonb_build_object('error', left(p_error, 500))
        where id = v_call.id;
        update public.domain_orders
        set state = 'reconciling', lease_until = null, lease_owner = null,
            next_attempt_at = now() + domains.backoff(0) / 6, last_error = left(p_error, 500), updated_at = now()
        where id = v_order.id;
    end if;
    return p_outcome;
end
$$;

-- A definitive failure: the order fails with an error code the owner sees, and the payment is
-- refunded through the payments refund path (the refunds job submits it).
create or replace function domains.fail_order(p_order public.domain_orders, p_code text, p_error text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
    update public.domain_orders
    set state = 'failed', error_code = p_code, last_error = left(p_error, 500), lease_until = null,
        lease_owner = null, next_attempt_at = null, updated_at = now()
    where id = p_order.id;
    perform payments.request_refund(
        (select p.order_id from public.payments as p where p.id = p_order.payment_id),
        left('domain registration failed: ' || coalesce(p_error, p_code), 500)
    );
end
$$;

-- What getInfo said about an order whose create has no known outcome: the domain is in our
-- account (the create succeeded: registered), it is not (the create did not happen: the order
-- may be sent again), or no usable answer (try later).
create or replace function domains.finish_reconcile(p_order uuid, p_worker text, p_found boolean, p_detail jsonb)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_order public.domain_orders;
    v_call domains.registrar_calls;
    v_user uuid;
begin
    select o.user_id into v_user from public.domain_orders as o where o.id = p_order;
    if not found then
        perform private.raise_error('DOM_014', format('no order %s', p_order));
    end if;
    perform billing.lock_user(v_user, billing.clock());
    v_order := domains.leased_order(p_order, p_worker);
    if v_order.id is null then
        return 'lease_lost';
    end if;
    select * into v_call from domains.registrar_calls as c
    where c.order_id = v_order.id and c.state = 'unknown' for update;
    if not found then
        return 'nothing_to_reconcile';
    end if;
    if p_found then
        perform domains.mark_registered(v_order, v_call.id, p_detail);
        return 'registered';
    elsif p_found is not null then
        update domains.registrar_calls
        set state = 'absent', detail = detail || coalesce(p_detail, '{}'::jsonb) where id = v_call.id;
        update public.domain_orders
        set state = 'queued', lease_until = null, lease_owner = null, next_attempt_at = now(), updated_at = now()
        where id = v_order.id;
        return 'absent';
    end if;
    update public.domain_orders
    set lease_until = null, lease_owner = null, next_attempt_at = now() + domains.backoff(v_order.attempts),
        last_error = left(p_detail ->> 'error', 500), updated_at = now()
    where id = v_order.id;
    return 'retry';
end
$$;

-- Give an order back without a decision (the registrar budget was spent, a transient error
-- before anything was sent): retried after the backoff.
create or replace function domains.release_order(p_order uuid, p_worker text, p_delay_s integer, p_error text)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_order public.domain_orders;
begin
    v_order := domains.leased_order(p_order, p_worker);
    if v_order.id is null then
        return false;
    end if;
    update public.domain_orders
    set lease_until = null, lease_owner = null, last_error = coalesce(left(p_error, 500), last_error),
        next_attempt_at = now() + coalesce(make_interval(secs => p_delay_s), domains.backoff(v_order.attempts)),
        updated_at = now()
    where id = v_order.id;
    return true;
end
$$;

revoke all on function domains.backoff(integer), domains.leased_order(uuid, text),
domains.mark_registered(public.domain_orders, bigint, jsonb), domains.fail_order(public.domain_orders, text, text)
from public;
revoke all on function domains.claim_order(text), domains.begin_create(uuid, text),
domains.finish_create(bigint, text, text, jsonb, text, text), domains.finish_reconcile(uuid, text, boolean, jsonb),
domains.release_order(uuid, text, integer, text) from public;
grant execute on function domains.claim_order(text), domains.begin_create(uuid, text),
domains.finish_create(bigint, text, text, jsonb, text, text), domains.finish_reconcile(uuid, text, boolean, jsonb),
domains.release_order(uuid, text, integer, text) to service_role;
