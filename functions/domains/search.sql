-- Search and pricing. The service normalises the asked name (idna, Public Suffix List) and
-- builds the candidates; what Namecheap said about each (domains.check) is kept for
-- availability_ttl, its price list (users.getPricing) for pricing_ttl. Prices in KWD are
-- decided here only, for search results and quotes alike:
--     price_kwd = ceil(usd * rate * margin / price_step) * price_step       (step 0.250 KWD)

create or replace function domains.price_kwd(p_usd numeric, p_rate numeric, p_margin numeric)
returns numeric
language sql
stable
set search_path = ''
as $$
    select (ceil(p_usd * p_rate * p_margin / s.price_step_kwd) * s.price_step_kwd)::numeric(12, 3)
    from domains.settings as s
$$;

-- A name of ours: lower-case ASCII labels (IDNs in punycode), at most 253 characters, never
-- under kwq8.com; the same rule as public.domains.fqdn.
create or replace function domains.require_fqdn(p_fqdn text)
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
    if p_fqdn is null or char_length(p_fqdn) > 253
        or p_fqdn !~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})$' then
        perform private.raise_error('DOM_002', 'a domain name is lower-case ASCII labels separated by dots');
    end if;
    if p_fqdn ~ '(^|\.)kwq8\.com$' then
        perform private.raise_error('DOM_002', 'names under kwq8.com are not sold');
    end if;
    return p_fqdn;
end
$$;

-- The configured TLD a name ends with, or DOM_003.
create or replace function domains.require_tld(p_fqdn text, p_tld text)
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
    if p_tld is null or not exists (select from domains.settings as s where p_tld = any(s.tlds))
        or right(p_fqdn, char_length(p_tld) + 1) <> '.' || p_tld then
        perform private.raise_error('DOM_003', format('.%s is not sold here', coalesce(p_tld, '?')));
    end if;
    return p_tld;
end
$$;

-- The name as the owner reads it (its Unicode form; the ASCII name when none is given), as
-- long as public.domains.fqdn_unicode allows.
create or replace function domains.require_display_name(p_unicode text, p_fqdn text)
returns text
language plpgsql
stable
set search_path = ''
as $$
begin
    if char_length(coalesce(p_unicode, p_fqdn)) not between 3 and 253 then
        perform private.raise_error('DOM_002', 'the Unicode form of a name is 3 to 253 characters');
    end if;
    return coalesce(p_unicode, p_fqdn);
end
$$;

-- What the service must still ask Namecheap: the names without a fresh answer and whether the
-- price list is stale. Also the TLDs to suggest.
create or replace function domains.search_state(p_names jsonb)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select jsonb_build_object(
        'tlds', to_jsonb(s.tlds),
        'max_years', s.max_years,
        'unchecked', coalesce((
            select jsonb_agg(n.name order by n.ord)
            from jsonb_array_elements_text(coalesce(p_names, '[]'::jsonb)) with ordinality as n (name, ord)
            where not exists (
                select from domains.availability as a
                where a.fqdn = n.name and a.checked_at > now() - s.availability_ttl
            )
        ), '[]'::jsonb),
        'pricing_stale', not exists (
            select from domains.pricing as p
            where p.action = 'register' and p.fetched_at > now() - s.pricing_ttl
        ) or exists (
            select from unnest(s.tlds) as t (tld)
            where not exists (
                select from domains.pricing as p
                where p.tld = t.tld and p.action = 'register' and p.years = 1 and p.fetched_at > now() - s.pricing_ttl
            )
        )
    )
    from domains.settings as s
$$;

-- A USD amount as Namecheap gives it (a JSON number or a decimal string) that fits the price
-- columns; VAL_001 naming p_what otherwise.
create or replace function domains.require_usd(p_value jsonb, p_what text)
returns numeric
language plpgsql
immutable
set search_path = ''
as $$
begin
    if coalesce(jsonb_typeof(p_value), 'null') not in ('number', 'string')
        or p_value #>> '{}' !~ '^[0-9]{1,8}(\.[0-9]+)?$' then
        perform private.raise_error(
            'VAL_001', format('%s must be a USD amount, not %s', p_what, left(coalesce(p_value::text, 'null'), 50))
        );
    end if;
    return (p_value #>> '{}')::numeric;
end
$$;

-- A JSON true or false (or its text); VAL_001 naming p_what otherwise.
create or replace function domains.require_flag(p_value jsonb, p_what text)
returns boolean
language plpgsql
immutable
set search_path = ''
as $$
begin
    if coalesce(jsonb_typeof(p_value), 'null') not in ('boolean', 'string')
        or lower(p_value #>> '{}') not in ('true', 'false') then
        perform private.raise_error(
            'VAL_001', format('%s must be true or false, not %s', p_what, left(coalesce(p_value::text, 'null'), 50))
        );
    end if;
    return (p_value #>> '{}')::boolean;
end
$$;

-- domains.check answers: [{fqdn, available, premium, premium_usd}], each a name of a TLD sold
-- here (DOM_002, DOM_003, VAL_001 otherwise). All are checked before any is stored.
create or replace function domains.record_availability(p_results jsonb)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_answer record;
    v_fqdn text;
    v_count integer;
begin
    if p_results is null or jsonb_typeof(p_results) <> 'array' or jsonb_array_length(p_results) > 50 then
        perform private.raise_error('VAL_001', 'results must be an array of at most 50 answers');
    end if;
    for v_answer in
        select r.value, r.ord - 1 as ord from jsonb_array_elements(p_results) with ordinality as r (value, ord)
    loop
        if jsonb_typeof(v_answer.value) <> 'object' then
            perform private.raise_error('VAL_001', format('results[%s] must be an object', v_answer.ord));
        end if;
        v_fqdn := domains.require_fqdn(lower(v_answer.value ->> 'fqdn'));
        if domains.tld_of(v_fqdn) is null then
            perform private.raise_error(
                'DOM_003', format('.%s is not sold here', substring(v_fqdn from '\.(.*)$'))
            );
        end if;
        perform domains.require_flag(v_answer.value -> 'available', format('results[%s].available', v_answer.ord));
        perform domains.require_flag(coalesce(v_answer.value -> 'premium', 'false'),
            format('results[%s].premium', v_answer.ord));
        if coalesce(jsonb_typeof(v_answer.value -> 'premium_usd'), 'null') <> 'null' then
            perform domains.require_usd(
                v_answer.value -> 'premium_usd', format('results[%s].premium_usd', v_answer.ord)
            );
        end if;
    end loop;
    -- A name answered twice in one batch keeps its last answer.
    insert into domains.availability as a (fqdn, available, premium, premium_usd, checked_at)
    select distinct on (lower(r.value ->> 'fqdn'))
        lower(r.value ->> 'fqdn'), (r.value ->> 'available')::boolean,
        coalesce((r.value ->> 'premium')::boolean, false), nullif(r.value ->> 'premium_usd', '')::numeric, now()
    from jsonb_array_elements(p_results) with ordinality as r (value, ord)
    order by lower(r.value ->> 'fqdn'), r.ord desc
    on conflict (fqdn) do update
    set available = excluded.available, premium = excluded.premium, premium_usd = excluded.premium_usd,
        checked_at = excluded.checked_at;
    get diagnostics v_count = row_count;
    return v_count;
end
$$;

-- users.getPricing answers: [{tld, action, years, usd_price}], for every TLD Namecheap sells
-- (DOM_003 for a malformed TLD, VAL_001 for the rest). All are checked before any is stored.
create or replace function domains.record_pricing(p_prices jsonb)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_price record;
    v_count integer;
begin
    if p_prices is null or jsonb_typeof(p_prices) <> 'array' then
        perform private.raise_error('VAL_001', 'prices must be an array');
    end if;
    for v_price in
        select r.value, r.ord - 1 as ord from jsonb_array_elements(p_prices) with ordinality as r (value, ord)
    loop
        if jsonb_typeof(v_price.value) <> 'object' then
            perform private.raise_error('VAL_001', format('prices[%s] must be an object', v_price.ord));
        end if;
        if coalesce(lower(v_price.value ->> 'tld'), '') !~ '^[a-z0-9-]+(\.[a-z0-9-]+)*$' then
            perform private.raise_error(
                'DOM_003', format('prices[%s]: .%s is not a TLD', v_price.ord, left(v_price.value ->> 'tld', 50))
            );
        end if;
        if v_price.value ->> 'action' is null or v_price.value ->> 'action' not in ('register', 'renew') then
            perform private.raise_error('VAL_001', format('prices[%s].action must be register or renew', v_price.ord));
        end if;
        if coalesce(v_price.value ->> 'years', '') !~ '^([1-9]|10)$' then
            perform private.raise_error('VAL_001', format('prices[%s].years must be 1 to 10', v_price.ord));
        end if;
        perform domains.require_usd(v_price.value -> 'usd_price', format('prices[%s].usd_price', v_price.ord));
    end loop;
    -- A price given twice in one batch keeps the last one.
    insert into domains.pricing as p (tld, action, years, usd_price, fetched_at)
    select distinct on (lower(r.value ->> 'tld'), r.value ->> 'action', (r.value ->> 'years')::integer)
        lower(r.value ->> 'tld'), r.value ->> 'action', (r.value ->> 'years')::integer,
        (r.value ->> 'usd_price')::numeric, now()
    from jsonb_array_elements(p_prices) with ordinality as r (value, ord)
    order by lower(r.value ->> 'tld'), r.value ->> 'action', (r.value ->> 'years')::integer, r.ord desc
    on conflict (tld, action, years) do update
    set usd_price = excluded.usd_price, fetched_at = excluded.fetched_at;
    get diagnostics v_count = row_count;
    return v_count;
end
$$;

-- The USD price of a name for a term: the premium price from domains.check (premium names are
-- sold for one year), else the cached list price. Null when unknown.
create or replace function domains.usd_price(p_fqdn text, p_tld text, p_years integer)
returns numeric
language sql
stable
set search_path = ''
as $$
    select case
        when a.premium then case when p_years = 1 then a.premium_usd end
        else (
            select p.usd_price from domains.pricing as p
            where p.tld = p_tld and p.action = 'register' and p.years = p_years
        )
    end
    from domains.availability as a
    where a.fqdn = p_fqdn
$$;

-- The search answer: each name with availability, premium flag and price in KWD.
-- p_names: [{fqdn, unicode, tld}], the asked name first.
create or replace function domains.search_results(p_names jsonb, p_years integer, p_rate numeric, p_margin numeric)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object(
        'fqdn', n.value ->> 'fqdn',
        'unicode', n.value ->> 'unicode',
        'available', a.available and u.usd is not null,
        'premium', coalesce(a.premium, false),
        'years', p_years,
        'price_kwd', case when a.available and u.usd is not null then domains.price_kwd(u.usd, p_rate, p_margin) end
    ) order by n.ordinality), '[]'::jsonb)
    from jsonb_array_elements(p_names) with ordinality as n (value, ordinality)
    left join domains.availability as a on a.fqdn = n.value ->> 'fqdn'
    cross join lateral (
        select domains.usd_price(n.value ->> 'fqdn', n.value ->> 'tld', p_years) as usd
    ) as u
$$;

revoke all on function domains.price_kwd(numeric, numeric, numeric), domains.require_fqdn(text),
domains.require_tld(text, text), domains.require_display_name(text, text), domains.require_usd(jsonb, text),
domains.require_flag(jsonb, text), domains.usd_price(text, text, integer) from public;
revoke all on function domains.search_state(jsonb), domains.record_availability(jsonb),
domains.record_pricing(jsonb), domains.search_results(jsonb, integer, numeric, numeric) from public;
grant execute on function domains.search_state(jsonb), domains.record_availability(jsonb),
domains.record_pricing(jsonb), domains.search_results(jsonb, integer, numeric, numeric) to service_role;
