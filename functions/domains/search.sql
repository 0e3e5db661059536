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

-- domains.check answers: [{fqdn, available, premium, premium_usd}].
create or replace function domains.record_availability(p_results jsonb)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_count integer;
begin
    if p_results is null or jsonb_typeof(p_results) <> 'array' or jsonb_array_length(p_results) > 50 then
        perform private.raise_error('VAL_001', 'results must be an array of at most 50 answers');
    end if;
    insert into domains.availability as a (fqdn, available, premium, premium_usd, checked_at)
    select lower(r ->> 'fqdn'), (r ->> 'available')::boolean, coalesce((r ->> 'premium')::boolean, false),
        nullif(r ->> 'premium_usd', '')::numeric, now()
    from jsonb_array_elements(p_results) as r
    on conflict (fqdn) do update
    set available = excluded.available, premium = excluded.premium, premium_usd = excluded.premium_usd,
        checked_at = excluded.checked_at;
    get diagnostics v_count = row_count;
    return v_count;
end
$$;

-- users.getPricing answers: [{tld, action, years, usd_price}].
create or replace function domains.record_pricing(p_prices jsonb)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_count integer;
begin
    if p_prices is null or jsonb_typeof(p_prices) <> 'array' then
        perform private.raise_error('VAL_001', 'prices must be an array');
    end if;
    insert into domains.pricing as p (tld, action, years, usd_price, fetched_at)
    select lower(r ->> 'tld'), r ->> 'action', (r ->> 'years')::integer, (r ->> 'usd_price')::numeric, now()
    from jsonb_array_elements(p_prices) as r
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
domains.require_tld(text, text), domains.usd_price(text, text, integer) from public;
revoke all on function domains.search_state(jsonb), domains.record_availability(jsonb),
domains.record_pricing(jsonb), domains.search_results(jsonb, integer, numeric, numeric) from public;
grant execute on function domains.search_state(jsonb), domains.record_availability(jsonb),
domains.record_pricing(jsonb), domains.search_results(jsonb, integer, numeric, numeric) to service_role;
