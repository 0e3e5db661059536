-- Buying (or renewing) a domain: the owner's registrant contact, then a checkout that freezes the price in a
-- quote (quote_ttl, 15 minutes) and opens a payment whose purpose is 'domain' on the same
-- UPayments path as plans (attach_checkout_charge, webhooks, confirm_payment). A captured
-- payment queues the order for the registration job (domains.fulfil_payment, called from
-- payments.fulfil); nothing is registered inside a webhook request.

-- The caller's registrant contact (all four Namecheap contact roles), validated by the table.
create or replace function domains.set_contact(p_user uuid, p_contact jsonb)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_row public.domain_contacts;
begin
    if p_user is null then
        perform private.raise_error('AUTH_004', 'no user in the request''s JWT');
    end if;
    if p_contact is null or jsonb_typeof(p_contact) <> 'object' then
        perform private.raise_error('DOM_015', 'contact must be a JSON object');
    end if;
    begin
        insert into public.domain_contacts as c (
            user_id, first_name, last_name, organization, address1, address2, city, state_province, postal_code,
            country, phone, email, updated_at
        )
        values (
            p_user, p_contact ->> 'first_name', p_contact ->> 'last_name', p_contact ->> 'organization',
            p_contact ->> 'address1', p_contact ->> 'address2', p_contact ->> 'city', p_contact ->> 'state_province',
            p_contact ->> 'postal_code', upper(p_contact ->> 'country'), p_contact ->> 'phone',
            lower(p_contact ->> 'email'), now()
        )
        on conflict (user_id) do update
        set first_name = excluded.first_name, last_name = excluded.last_name, organization = excluded.organization,
            address1 = excluded.address1, address2 = excluded.address2, city = excluded.city,
            state_province = excluded.state_province, postal_code = excluded.postal_code, country = excluded.country,
            phone = excluded.phone, email = excluded.email, updated_at = excluded.updated_at
        returning * into v_row;
    exception
        when not_null_violation or check_violation then
            perform private.raise_error(
                'DOM_015', 'first_name, last_name, address1, city, state_province, postal_code, country (two letters),'
                || ' phone (+NNN.NNNNNNNN) and email are required and must be well formed'
            );
    end;
    return to_jsonb(v_row) - 'user_id';
end
$$;

-- The browser's half: the caller's own contact only. set_contact takes any user and is the
-- service's, so the browser never holds EXECUTE on it.
create or replace function domains.set_domain_contact(p_contact jsonb)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
    select domains.set_contact(auth.uid(), p_contact)
$$;

create or replace function public.set_domain_contact(contact jsonb)
returns public.domain_contact
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.domain_contact, domains.set_domain_contact(contact))
$$;

-- The term and the pricing inputs of a checkout: years within max_years, a configured rate and
-- margin (the service's environment; DOM_013 when missing).
create or replace function domains.require_terms(p_years integer, p_rate numeric, p_margin numeric)
returns void
language plpgsql
stable
set search_path = ''
as $$
declare
    v_max integer := (select s.max_years from domains.settings as s);
begin
    if p_years is null or p_years not between 1 and v_max then
        perform private.raise_error('VAL_001', format('years must be 1 to %s', v_max));
    end if;
    if p_rate is null or p_rate <= 0 or p_margin is null or p_margin < 1 then
        perform private.raise_error('DOM_013', 'the USD to KWD rate and the margin are not configured');
    end if;
end
$$;

-- Orders for one name are decided one at a time: whoever checks a name out or has its payment
-- captured holds this until commit, so a second session sees the first one's order (DOM_001)
-- instead of both passing the "is it being bought" check. Taken after the user's lock.
create or replace function domains.lock_name(p_fqdn text)
returns void
language sql
volatile
set search_path = ''
as $$
    select pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('kwq8:domain_name:' || p_fqdn, 0))
$$;

-- A replayed idempotency key: the same payment (and quote) while the quote is valid; null for a
-- new key. The caller holds the user's lock.
create or replace function domains.replayed_checkout(p_user uuid, p_key text, p_fingerprint text, p_fqdn text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
    v_prior public.payments;
    v_quote public.domain_quotes;
begin
    v_prior := payments.replay_payment(p_user, p_key, 'domain', p_fingerprint);
    if v_prior.id is null then
        return null;
    end if;
    select q.* into v_quote
    from public.domain_orders as o inner join public.domain_quotes as q on o.quote_id = q.id
    where o.payment_id = v_prior.id;
    if v_prior.status = 'pending' and v_quote.expires_at <= billing.clock() then
        perform private.raise_error('DOM_004', format('the quote for %s expired at %s', p_fqdn, v_quote.expires_at),
            'start a new checkout (another idempotency key)');
    end if;
    return domains.checkout_json(v_prior, v_quote) || jsonb_build_object('replay', true);
end
$$;

-- The quote (price frozen for quote_ttl), its payment (purpose 'domain') and the order.
create or replace function domains.open_order(
    p_user uuid, p_project uuid, p_fqdn text, p_unicode text, p_years integer, p_premium boolean, p_usd numeric,
    p_rate numeric, p_margin numeric, p_key text, p_fingerprint text, p_action text, p_expires_before timestamptz
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_quote public.domain_quotes;
    v_payment public.payments;
begin
    insert into public.domain_quotes (
        user_id, project_id, fqdn, fqdn_unicode, years, premium, usd_price, usd_kwd_rate, margin, price_kwd,
        expires_at, created_at
    )
    values (
        p_user, p_project, p_fqdn, coalesce(p_unicode, p_fqdn), p_years, p_premium, p_usd, p_rate, p_margin,
        domains.price_kwd(p_usd, p_rate, p_margin), v_now + (select s.quote_ttl from domains.settings as s), v_now
    )
    returning * into v_quote;
    insert into public.payments (
        order_id, user_id, plan, purpose, kind, amount_kwd, idempotency_key, request_fingerprint, created_at,
        updated_at
    )
    values (
        'kwq8_' || replace(extensions.gen_random_uuid()::text, '-', ''), p_user, null, 'domain',
        case p_action when 'renew' then 'renewal' else 'new' end, v_quote.price_kwd, p_key, p_fingerprint, v_now,
        v_now
    )
    returning * into v_payment;
    insert into public.domain_orders (
        user_id, project_id, quote_id, payment_id, fqdn, years, action, expires_before, created_at, updated_at
    )
    values (
        p_user, p_project, v_quote.id, v_payment.id, p_fqdn, p_years, p_action, p_expires_before, v_now, v_now
    );
    return domains.checkout_json(v_payment, v_quote) || jsonb_build_object('replay', false);
end
$$;

-- Quote and checkout in one step. The service has just asked Namecheap about the name
-- (domains.record_availability) and refreshed the price list when stale. Replays of the same
-- idempotency key answer the same payment while its quote is valid.
create or replace function domains.create_checkout(
    p_user uuid, p_project uuid, p_fqdn text, p_unicode text, p_tld text, p_years integer, p_rate numeric,
    p_margin numeric, p_key text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_fingerprint text;
    v_prior jsonb;
    v_availability domains.availability;
    v_usd numeric;
begin
    perform payments.require_checkout_request(p_user, p_key);
    perform domains.require_fqdn(p_fqdn);
    perform domains.require_display_name(p_unicode, p_fqdn);
    perform domains.require_tld(p_fqdn, p_tld);
    perform domains.require_terms(p_years, p_rate, p_margin);
    v_fingerprint := billing.fingerprint(
        'domain_checkout', jsonb_build_object('project_id', p_project, 'fqdn', p_fqdn, 'years', p_years)
    );

    perform billing.lock_user(p_user, v_now);
    v_prior := domains.replayed_checkout(p_user, p_key, v_fingerprint, p_fqdn);
    if v_prior is not null then
        return v_prior;
    end if;
    perform domains.lock_name(p_fqdn);

    if not exists (select from public.projects as p where p.id = p_project and p.user_id = p_user) then
        perform private.raise_error('DOM_014', 'no such project of this owner');
    end if;
    if not exists (select from public.domain_contacts as c where c.user_id = p_user) then
        perform private.raise_error('DOM_015', 'set the registrant contact first (public.set_domain_contact)');
    end if;
    if exists (select from public.domains as d where d.fqdn = p_fqdn) then
        perform private.raise_error('DOM_009', format('%s is already connected to a project', p_fqdn));
    end if;
    -- Someone's payment for this name is on its way: a second one could only be refunded.
    if exists (
        select from public.domain_orders as o
        inner join public.domain_quotes as q on o.quote_id = q.id
        where o.fqdn = p_fqdn and o.action = 'register'
            and (o.state in ('queued', 'submitting', 'reconciling', 'registered')
                or (o.state = 'awaiting_payment' and q.expires_at > v_now))
    ) then
        perform private.raise_error('DOM_001', format('%s is being bought', p_fqdn));
    end if;
    select * into v_availability from domains.availability as a
    where a.fqdn = p_fqdn and a.checked_at > now() - (select s.availability_ttl from domains.settings as s);
    if not found then
        perform private.raise_error('DOM_004', format('no fresh availability answer for %s', p_fqdn), 'search again');
    end if;
    if not v_availability.available then
        perform private.raise_error('DOM_001', format('%s is not available', p_fqdn));
    end if;
    if v_availability.premium and p_years <> 1 then
        perform private.raise_error('VAL_001', 'premium names are sold for one year');
    end if;
    v_usd := domains.usd_price(p_fqdn, p_tld, p_years);
    if v_usd is null or v_usd <= 0 then
        perform private.raise_error('DOM_004', format('no price for .%s over %s years', p_tld, p_years), 'search again');
    end if;
    return domains.open_order(
        p_user, p_project, p_fqdn, p_unicode, p_years, v_availability.premium, v_usd, p_rate, p_margin, p_key,
        v_fingerprint, 'register', null
    );
end
$$;

-- The owner's domain registered here, locked: what a renewal extends (DOM_014 otherwise).
create or replace function domains.renewable_domain(p_user uuid, p_fqdn text)
returns public.domains
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_domain public.domains := domains.owned_domain(p_user, p_fqdn);
begin
    select * into v_domain from public.domains as d where d.id = v_domain.id for update;
    if v_domain.origin <> 'registered' or v_domain.registration_expires_at is null then
        perform private.raise_error(
            'DOM_014', format('%s was not registered through KWq8', p_fqdn), 'renew it where it was registered'
        );
    end if;
    return v_domain;
end
$$;

-- Before a renewal checkout: the domain is the caller's and registered here; whether the
-- renewal price list must be fetched first.
create or replace function domains.renewal_state(p_user uuid, p_fqdn text, p_years integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_domain public.domains;
    v_tld text;
begin
    if p_user is null then
        perform private.raise_error('CREDIT_014', 'user_id is required');
    end if;
    v_domain := domains.renewable_domain(p_user, p_fqdn);
    v_tld := domains.tld_of(v_domain.fqdn);
    return jsonb_build_object(
        'fqdn', v_domain.fqdn, 'tld', v_tld, 'registration_expires_at', v_domain.registration_expires_at,
        'pricing_stale', not exists (
            select from domains.pricing as p
            inner join domains.settings as s on true
            where p.tld = v_tld and p.action = 'renew' and p.years = p_years and p.fetched_at > now() - s.pricing_ttl
        )
    );
end
$$;

-- The configured TLD a name was sold under: the longest that ends it (co before com.co).
create or replace function domains.tld_of(p_fqdn text)
returns text
language sql
stable
set search_path = ''
as $$
    select t.tld
    from domains.settings as s
    cross join lateral unnest(s.tlds) as t (tld)
    where right(p_fqdn, char_length(t.tld) + 1) = '.' || t.tld
    order by char_length(t.tld) desc
    limit 1
$$;

-- A renewal: the same pay-then-execute path as a registration, priced from the renewal list
-- (users.getPricing, RENEW). One renewal at a time per domain (DOM_016).
create or replace function domains.create_renewal_checkout(
    p_user uuid, p_fqdn text, p_years integer, p_rate numeric, p_margin numeric, p_key text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_fingerprint text;
    v_prior jsonb;
    v_domain public.domains;
    v_tld text;
    v_usd numeric;
begin
    perform payments.require_checkout_request(p_user, p_key);
    perform domains.require_fqdn(p_fqdn);
    perform domains.require_terms(p_years, p_rate, p_margin);
    v_fingerprint := billing.fingerprint('domain_renewal', jsonb_build_object('fqdn', p_fqdn, 'years', p_years));

    perform billing.lock_user(p_user, v_now);
    v_prior := domains.replayed_checkout(p_user, p_key, v_fingerprint, p_fqdn);
    if v_prior is not null then
        return v_prior;
    end if;
    v_domain := domains.renewable_domain(p_user, p_fqdn);
    if exists (
        select from public.domain_orders as o
        inner join public.domain_quotes as q on o.quote_id = q.id
        where o.fqdn = p_fqdn and o.action = 'renew'
            and (o.state in ('queued', 'submitting', 'reconciling')
                or (o.state = 'awaiting_payment' and q.expires_at > v_now))
    ) then
        perform private.raise_error('DOM_016', format('a renewal of %s is already under way', p_fqdn));
    end if;
    v_tld := domains.tld_of(v_domain.fqdn);
    select p.usd_price into v_usd from domains.pricing as p
    where p.tld = v_tld and p.action = 'renew' and p.years = p_years;
    if v_usd is null or v_usd <= 0 then
        perform private.raise_error('DOM_004', format('no renewal price for .%s over %s years', v_tld, p_years),
            'try again');
    end if;
    return domains.open_order(
        p_user, v_domain.project_id, p_fqdn, v_domain.fqdn_unicode, p_years, false, v_usd, p_rate, p_margin, p_key,
        v_fingerprint, 'renew', v_domain.registration_expires_at
    );
end
$$;

create or replace function domains.checkout_json(p_payment public.payments, p_quote public.domain_quotes)
returns jsonb
language sql
immutable
set search_path = ''
as $$
    select payments.payment_json(p_payment) || jsonb_build_object(
        'quote', jsonb_build_object(
            'quote_id', p_quote.id, 'fqdn', p_quote.fqdn, 'unicode', p_quote.fqdn_unicode, 'years', p_quote.years,
            'premium', p_quote.premium, 'price_kwd', p_quote.price_kwd, 'expires_at', p_quote.expires_at
        )
    )
$$;

-- A captured domain payment (from payments.fulfil; the caller holds the user's and the
-- payment's locks): the payment is paid and the order queued for registration. When another
-- paid order has the name already, this one can only be refunded: it fails and asks for it.
create or replace function domains.fulfil_payment(
    p_payment public.payments, p_track_id text, p_provider_payment_id text
)
returns public.payments
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_order public.domain_orders;
    v_result public.payments;
    v_taken boolean;
begin
    select * into v_order from public.domain_orders as o where o.payment_id = p_payment.id for update;
    if v_order.id is not null then
        perform domains.lock_name(v_order.fqdn);
    end if;
    update public.payments
    set status = 'paid', paid_at = v_now, closed_at = null, status_reason = null,
        fulfilment = case when v_order.id is null then 'needs_review' else 'fulfilled' end,
        credits_granted = 0, captured_amount_kwd = p_payment.amount_kwd, captured_currency = p_payment.currency,
        track_id = coalesce(track_id, p_track_id),
        provider_payment_id = coalesce(left(p_provider_payment_id, 255), provider_payment_id),
        updated_at = v_now
    where id = p_payment.id
    returning * into v_result;
    if v_order.id is null then
        return v_result;
    end if;
    v_taken := v_order.action = 'register' and exists (
        select from public.domain_orders as o
        where o.fqdn = v_order.fqdn and o.id <> v_order.id and o.action = 'register'
            and o.state in ('queued', 'submitting', 'reconciling', 'registered')
    );
    if v_taken then
        update public.domain_orders
        set state = 'failed', error_code = 'DOM_001', last_error = 'another paid order has this name',
            updated_at = v_now
        where id = v_order.id;
        perform payments.request_refund(p_payment.order_id, 'domain already bought by another order');
    elsif v_order.state in ('awaiting_payment', 'cancelled') then
        update public.domain_orders
        set state = 'queued', next_attempt_at = now(), updated_at = v_now
        where id = v_order.id;
    end if;
    return v_result;
end
$$;

revoke all on function domains.set_contact(uuid, jsonb), domains.set_domain_contact(jsonb),
public.set_domain_contact(jsonb) from public;
grant execute on function domains.set_domain_contact(jsonb), public.set_domain_contact(jsonb) to authenticated;
grant execute on function domains.set_contact(uuid, jsonb) to service_role;
revoke all on function domains.create_checkout(uuid, uuid, text, text, text, integer, numeric, numeric, text),
domains.create_renewal_checkout(uuid, text, integer, numeric, numeric, text),
domains.renewal_state(uuid, text, integer), domains.require_terms(integer, numeric, numeric),
domains.replayed_checkout(uuid, text, text, text), domains.lock_name(text),
domains.open_order(
    uuid, uuid, text, text, integer, boolean, numeric, numeric, numeric, text, text, text, timestamptz
),
domains.renewable_domain(uuid, text), domains.tld_of(text),
domains.checkout_json(public.payments, public.domain_quotes),
domains.fulfil_payment(public.payments, text, text) from public;
grant execute on function domains.create_checkout(uuid, uuid, text, text, text, integer, numeric, numeric, text),
domains.create_renewal_checkout(uuid, text, integer, numeric, numeric, text),
domains.renewal_state(uuid, text, integer) to service_role;
