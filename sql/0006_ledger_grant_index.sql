-- 0006: drop the ledger's index on grant_id. It served the foreign key to billing.grants, which
-- 0005 replaced by a no-delete trigger on grants; no query looks ledger entries up by grant (the
-- refund path and the audit reach grants from entries, through billing.grant_movements). On a
-- table that only grows, an unused index costs a write per entry and disk that grows with it.
-- A plain drop, so the revision stays in a transaction and can be downgraded: it only changes
-- the catalog, and the migrator's DDL lock timeout bounds how long it may queue behind spends.
-- squawk-ignore require-concurrent-index-deletion
drop index public.credit_transactions_grant;
