-- Input checks shared by every credit function. Each raises a catalogued error and writes
-- nothing, so a bad call fails before any lock is taken.

-- The signed-in caller, or AUTH_004 when the request carries no user.
create or replace function billing.require_caller()
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
    v_user uuid := auth.uid();
begin
    if v_user is null then
        perform private.raise_error('AUTH_004', 'no user in the request''s JWT');
    end if;
    return v_user;
end
$$;

-- Idempotency keys: 1 to 255 printable characters (a UUID is the usual choice).
create or replace function billing.require_key(p_key text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
    if p_key is null or char_length(p_key) not between 1 and 255 or p_key ~ '[[:cntrl:]]'
        or btrim(p_key) = '' then
        perform private.raise_error('CREDIT_006', 'idempotency_key must be 1-255 printable characters');
    end if;
end
$$;

-- Keys chosen by trusted servers (deducts, grants, refunds, a payment's credits) live in their
-- own namespace: stored with the prefix 'srv:', which no browser-facing function accepts, so a
-- user who can see or guess a server's key cannot take it first. A key already in the
-- namespace is kept as it is (internal callers pass namespaced keys on).
create or replace function billing.server_key(p_key text)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
    perform billing.require_key(p_key);
    if lower(left(p_key, 4)) = 'srv:' then
        return 'srv:' || substr(p_key, 5);
    end if;
    if char_length(p_key) > 251 then
        perform private.raise_error('CREDIT_006', 'idempotency_key of a trusted server must be 1-251 characters');
    end if;
    return 'srv:' || p_key;
end
$$;

-- The browser's keys: any printable key outside the servers' namespace.
create or replace function billing.require_client_key(p_key text)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
    perform billing.require_key(p_key);
    if lower(left(p_key, 4)) = 'srv:' then
        perform private.raise_error('CREDIT_015', 'keys beginning with srv: are reserved for trusted servers');
    end if;
end
$$;

-- Credit amounts: positive (or zero when allowed), finite, at most two decimals, bounded.
create or replace function billing.require_amount(p_amount numeric, p_max numeric, p_allow_zero boolean default false)
returns numeric
language plpgsql
immutable
set search_path = ''
as $$
begin
    if p_amount is null or p_amount = 'NaN'::numeric or p_amount < 0 or (p_amount = 0 and not p_allow_zero)
        or p_amount > p_max or p_amount <> round(p_amount, 2) then
        perform private.raise_error(
            'CREDIT_010',
            format('amount must be %s0 to %s with at most 2 decimals, got %s',
                case when p_allow_zero then '' else 'more than ' end, p_max, coalesce(p_amount::text, 'null'))
        );
    end if;
    return round(p_amount, 2);
end
$$;

-- Free text such as descriptions and reasons: bounded, optionally required, and free of control
-- characters other than tab and line breaks (NUL never gets here: PostgreSQL refuses it in text).
create or replace function billing.require_text(p_value text, p_name text, p_max integer, p_required boolean)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
    if (p_value is null or btrim(p_value) = '') and p_required then
        perform private.raise_error('VAL_001', p_name || ' is required');
    end if;
    if char_length(p_value) > p_max then
        perform private.raise_error('VAL_001', format('%s is longer than %s characters', p_name, p_max));
    end if;
    if p_value ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]' then
        perform private.raise_error('VAL_002', format('%s contains a control character', p_name));
    end if;
    return nullif(btrim(p_value), '');
end
$$;

-- What a request asked for under its idempotency key; a retry must ask for the same.
create or replace function billing.fingerprint(p_operation text, p_arguments jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
    select md5(p_operation || ':' || p_arguments::text)
$$;

revoke all on function billing.require_caller(), billing.require_key(text), billing.server_key(text),
billing.require_client_key(text),
billing.require_amount(numeric, numeric, boolean), billing.require_text(text, text, integer, boolean),
billing.fingerprint(text, jsonb) from public;
