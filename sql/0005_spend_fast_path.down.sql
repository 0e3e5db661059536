-- Undoes 0005_spend_fast_path. Spends recorded meanwhile keep their grant on the ledger entry;
-- they are rewritten as allocation rows first, so the older functions still see every movement.
insert into billing.allocations (transaction_id, grant_id, amount)
select
    t.id,
    t.grant_id,
    t.credits_amount
from public.credit_transactions as t
where
    t.transaction_type = 'spend' and t.grant_id is not null
    and not exists (
        select from billing.allocations as a
        where a.transaction_id = t.id
    );
drop trigger if exists users_reschedule_credit_events on public.users;
drop trigger if exists users_keep_ledger on public.users;
drop view if exists billing.grant_movements;
drop function if exists billing.reschedule_credit_events();
drop function if exists billing.keep_users_with_ledger();
drop function if exists billing.schedule_credit_events(uuid, timestamptz);
drop function if exists billing.note_credit_event(uuid, timestamptz);
drop trigger if exists grants_no_delete on billing.grants;
drop trigger if exists grants_no_truncate on billing.grants;
alter table public.credit_transactions
add constraint credit_transactions_user_id_fkey foreign key (user_id) references public.users (id) on delete restrict;
alter table public.credit_transactions
add constraint credit_transactions_grant_id_fkey foreign key (grant_id) references billing.grants (id);
alter table public.users drop column credits_next_event_at;
