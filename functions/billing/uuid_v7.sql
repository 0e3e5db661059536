-- Time-ordered UUIDs (version 7: 48-bit Unix milliseconds, then random bits) for ledger entries.
-- New entries land at the right edge of the primary-key index instead of on a random page, so a
-- busy ledger touches (and after each checkpoint writes in full) far fewer index pages.
create or replace function billing.uuid_v7()
returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_random text := encode(extensions.gen_random_bytes(10), 'hex');
begin
    return (
        lpad(to_hex((extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0')
        || '7' || substr(v_random, 1, 3)
        || to_hex(8 + get_byte(decode(substr(v_random, 4, 2), 'hex'), 0) % 4) || substr(v_random, 6, 15)
    )::uuid;
end
$$;

revoke all on function billing.uuid_v7() from public;
