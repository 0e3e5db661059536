-- The sweepers' lock (credit upkeep, subscription and checkout jobs): a user's row lock only if
-- nobody holds it now. A busy user is skipped, never waited for: the request holding the lock
-- does the same upkeep itself, and a later sweep finds whatever is left.
create or replace function billing.try_lock_user(p_user uuid)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
    perform from public.users where id = p_user for update skip locked;
    return found;
end
$$;

revoke all on function billing.try_lock_user(uuid) from public;
