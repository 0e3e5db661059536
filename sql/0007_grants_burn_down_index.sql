-- kwq8: no-transaction
-- 0007: an index in burn-down order (daily bonus first, then soonest expiry, promotional before
-- paid, oldest), so picking the grant a spend draws from is an index scan that stops at the
-- first live grant instead of a sort of all the user's grants. Its expressions are those of the
-- `order by` in billing.spend and billing.consume; the planner uses it only while they match.
-- Built concurrently: spends keep updating grants meanwhile. A failed earlier attempt leaves an
-- INVALID index behind, so it is dropped first. To undo by hand:
-- `drop index concurrently billing.grants_burn_down`.
drop index concurrently if exists billing.grants_burn_down;
create index concurrently if not exists grants_burn_down on billing.grants (
    user_id,
    (source = 'daily_bonus') desc,
    expires_at asc nulls last,
    (source in ('monthly', 'purchase')) asc,
    effective_at,
    created_at,
    id
);
