-- 0005: a spend that takes one grant costs one balance update, one grant update and one ledger
-- entry, and no more.
--
--  * users.credits_next_event_at: the earliest time the user's credits change by themselves (a
--    grant or hold expires, a new Kuwait day brings a daily bonus); null when nothing is
--    scheduled. Before it, nothing needs bringing up to date, so a spend can lock and debit the
--    user's row in one statement; at or after it, billing.lock_user does the upkeep and sets the
--    next time. The value may be earlier than the real next event (that costs one idle check),
--    never later.
--  * A spend drawn from one grant names that grant on its ledger entry (grant_id) instead of
--    writing an allocation row; billing.grant_movements shows both kinds alike.
--  * The ledger's references to users and grants are kept by triggers on the rarely-changed
--    side (users are deleted rarely, grants never) instead of a foreign-key check on every entry.

-- Existing and new users are due at once: their first request does the upkeep. 'Due' is the
-- epoch, earlier than any clock (a frozen test clock included), rather than -infinity, which
-- many client libraries cannot parse.
alter table public.users add column credits_next_event_at timestamptz default 'epoch';

comment on column public.users.credits_next_event_at is
'Earliest time a grant or hold of this user expires or a daily bonus is due (null: none); kept by billing.lock_user.';

-- Grants are never deleted: the ledger and the allocations refer to them forever.
create trigger grants_no_delete
before delete on billing.grants
for each row execute function billing.forbid_ledger_change();
create trigger grants_no_truncate
before truncate on billing.grants
for each statement execute function billing.forbid_ledger_change();

-- The allocations' foreign key already pins every grant (each has its opening allocation), and
-- the trigger above forbids deletes outright.
-- squawk-ignore ban-drop-constraint
alter table public.credit_transactions drop constraint credit_transactions_grant_id_fkey;
-- Replaced by billing.keep_users_with_ledger (functions/billing/credit_events.sql): a user with
-- credit history cannot be deleted, checked when a user is deleted instead of on every entry.
-- squawk-ignore ban-drop-constraint
alter table public.credit_transactions drop constraint credit_transactions_user_id_fkey;

-- Every change to a grant's remaining credits, whichever way it was recorded: allocation rows,
-- and spends that drew on a single grant named on their ledger entry.
create view billing.grant_movements
with (security_invoker = true)
as
select
    a.transaction_id,
    a.grant_id,
    a.amount
from billing.allocations as a
union all
select
    t.id as transaction_id,
    t.grant_id,
    t.credits_amount as amount
from public.credit_transactions as t
where t.transaction_type = 'spend' and t.grant_id is not null;

revoke all on billing.grant_movements from public, anon, authenticated, service_role;
