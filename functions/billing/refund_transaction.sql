-- Refund a spend or a captured hold (a failed generation, GEN_001) into the grants it came from.
-- Grants that have expired since get nothing back; the result reports that part as forfeited.
-- A transaction is refunded at most once.
create or replace function billing.refund_transaction(p_transaction uuid, p_key text, p_reason text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_reason text := billing.require_text(p_reason, 'reason', 500, true);
    v_original public.credit_transactions;
    v_prior public.credit_transactions;
    v_fingerprint text;
    v_sources uuid[];
    v_refund uuid := billing.uuid_v7();
    v_result record;
    v_row public.credit_transactions;
begin
    p_key := billing.server_key(p_key);
    if p_transaction is null then
        perform private.raise_error('CREDIT_011', 'transaction_id is required');
    end if;
    select * into v_original from public.credit_transactions where id = p_transaction;
    if not found then
        perform private.raise_error('CREDIT_011', format('no transaction %s', p_transaction));
    end if;
    v_fingerprint := billing.fingerprint('refund', jsonb_build_object('transaction_id', p_transaction, 'reason', v_reason));
    perform billing.lock_user(v_original.user_id, billing.clock());
    v_prior := billing.replay_entry(v_original.user_id, p_key, 'refund', v_fingerprint);
    if v_prior.id is not null then
        v_row := v_prior;
    else
        if v_original.transaction_type not in ('spend', 'capture') then
            perform private.raise_error(
                'CREDIT_012', format('a %s transaction cannot be refunded', v_original.transaction_type)
            );
        end if;
        if exists (select from public.credit_transactions where refund_of = p_transaction) then
            perform private.raise_error('CREDIT_012', format('transaction %s is already refunded', p_transaction));
        end if;
        if v_original.transaction_type = 'spend' then
            v_sources := array[v_original.id];
        else
            -- What a captured hold kept: its hold entry net of the releases of that hold.
            v_sources := array(
                select t.id from public.credit_transactions as t
                where t.hold_id = v_original.hold_id and t.transaction_type in ('hold', 'release')
            );
        end if;
        select * into v_result from billing.restore(v_original.user_id, v_refund, v_sources, null);
        insert into public.credit_transactions (
            id, user_id, transaction_type, credits_amount, balance_after, description, action,
            idempotency_key, request_fingerprint, refund_of, hold_id, metadata
        )
        values (
            v_refund, v_original.user_id, 'refund', v_result.restored,
            billing.apply_balance(v_original.user_id, v_result.restored), v_reason, v_original.action,
            p_key, v_fingerprint, v_original.id, v_original.hold_id,
            jsonb_build_object('forfeited', v_result.forfeited)
        )
        returning * into v_row;
    end if;
    return jsonb_build_object(
        'transaction_id', v_row.id, 'refunded', v_row.credits_amount,
        'forfeited', (v_row.metadata ->> 'forfeited')::numeric, 'balance', v_row.balance_after
    );
end
$$;

-- user_id: whose entry it is; another user's entry is refused (CREDIT_011).
create or replace function public.refund_transaction(
    user_id uuid, transaction_id uuid, idempotency_key text, reason text
)
returns public.credit_refund
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(
        null::public.credit_refund,
        billing.refund_transaction(billing.transaction_of(user_id, transaction_id), idempotency_key, reason)
    )
$$;

revoke all on function billing.refund_transaction(uuid, text, text), public.refund_transaction(uuid, uuid, text, text)
from public;
grant execute on function billing.refund_transaction(uuid, text, text),
public.refund_transaction(uuid, uuid, text, text) to service_role;
