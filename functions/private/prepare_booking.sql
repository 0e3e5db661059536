-- Tidy a booking before its checks (trimmed text, phone in E.164, empty optional fields null)
-- and refuse a time in the past or more than two years ahead, by billing.clock(), on insert and
-- whenever starts_at changes. SECURITY DEFINER because visitors (anon) cannot call
-- billing.clock() themselves; it reads nothing but the new row and the clock.
create or replace function private.prepare_booking()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
begin
    new.customer_name := btrim(new.customer_name);
    new.phone := private.normalize_phone(btrim(new.phone));
    new.email := nullif(btrim(new.email), '');
    new.service := btrim(new.service);
    new.notes := nullif(btrim(new.notes, e' \t\r\n'), '');
    if tg_op = 'INSERT' or new.starts_at is distinct from old.starts_at then
        if new.starts_at <= v_now then
            perform private.raise_error('VAL_001', 'starts_at must be in the future');
        end if;
        if new.starts_at > v_now + interval '2 years' then
            perform private.raise_error('VAL_001', 'starts_at must be within two years');
        end if;
    end if;
    return new;
end
$$;

revoke all on function private.prepare_booking() from public;

drop trigger if exists bookings_prepare on public.bookings;
create trigger bookings_prepare
before insert or update on public.bookings
for each row execute function private.prepare_booking();
