-- Undoes 0006_ledger_grant_index.
create index credit_transactions_grant on public.credit_transactions (grant_id) where grant_id is not null;
