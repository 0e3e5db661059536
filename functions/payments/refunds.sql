-- Refunds and voids (states in sql/0009_payments_safety.sql). Trusted servers and operators ask
-- for a refund (public.request_refund); the refunds job (`kwq8 jobs refunds`) submits it to
-- UPayments' create-refund in two committed steps around the call; a refund or void UPayments
-- reports itself (get-payment-status answering REFUND or VOIDED) completes the same way. A
-- completed refund takes back what the payment delivered, once.

-- Take back what a refunded payment delivered: what is left of its credits (the spent part is
-- the shortfall), and the period or upgrade it bought while that is still the subscription's
-- current state. The caller holds the user's and the payment's locks.
create or replace function payments.take_back(p_payment public.payments, p_refund payments.refunds, p_reason text)
returns payments.refunds
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_grant billing.grants;
    v_tx uuid;
    v_expired numeric := 0;
    v_clawed numeric := 0;
    v_shortfall numeric := 0;
    v_sub public.subscriptions;
    v_note text;
    v_result payments.refunds;
begin
    select g.* into v_grant
    from public.credit_transactions as t
    inner join billing.grants as g on t.grant_id = g.id
    where t.user_id = p_payment.user_id and t.idempotency_key = 'srv:payment:' || p_payment.order_id
        and t.transaction_type = 'grant';
    if found then
        -- What expired before the refund was never the user's to spend: not a shortfall.
        select coalesce(sum(-a.amount), 0) into v_expired
        from billing.allocations as a
        inner join public.credit_transactions as t on a.transaction_id = t.id
        where a.grant_id = v_grant.id and t.transaction_type = 'expire';
        if v_grant.remaining > 0 and (v_grant.expires_at is null or v_grant.expires_at > v_now) then
            -- The grant ends now (so a hold released later forfeits rather than refills it), and
            -- what is left of it leaves the balance in an expire entry naming the payment.
            v_clawed := v_grant.remaining;
            v_tx := billing.uuid_v7();
            update billing.grants
            set remaining = 0, expires_at = greatest(v_now, effective_at + interval '1 microsecond')
            where id = v_grant.id;
            insert into billing.allocations (transaction_id, grant_id, amount) values (v_tx, v_grant.id, -v_clawed);
            insert into public.credit_transactions (
                id, user_id, transaction_type, credits_amount, balance_after, description, grant_id, metadata
            )
            values (
                v_tx, p_payment.user_id, 'expire', -v_clawed, billing.apply_balance(p_payment.user_id, -v_clawed),
                'Credits taken back: payment refunded', v_grant.id,
                jsonb_build_object('source', v_grant.source, 'order_id', p_payment.order_id, 'refund_id', p_refund.id)
            );
        end if;
        v_shortfall := greatest(v_grant.amount - v_clawed - v_expired, 0);
    end if;

    select * into v_sub from public.subscriptions as s where s.user_id = p_payment.user_id for update;
    if p_payment.purpose = 'domain' then
        v_note := 'domain payment refunded';
    elsif p_payment.fulfilment is distinct from 'fulfilled' then
        v_note := 'nothing was delivered for this payment';
    elsif p_payment.kind = 'credit_pack' then
        v_note := 'credit pack: what is left of its credits is taken back';
    elsif not found or v_sub.status <> 'active' or v_sub.last_payment_id is distinct from p_payment.id then
        v_note := 'subscription not adjusted: it changed after this payment';
    elsif p_payment.kind = 'upgrade' then
        update public.subscriptions set plan = p_payment.proration ->> 'from_plan', updated_at = v_now
        where id = v_sub.id;
        update public.users set plan = p_payment.proration ->> 'from_plan', updated_at = v_now
        where id = p_payment.user_id;
        v_note := 'upgrade taken back: the plan is ' || (p_payment.proration ->> 'from_plan') || ' again';
    elsif p_payment.period_end = v_sub.current_period_end and p_payment.period_start > v_now
        and p_payment.period_start > v_sub.current_period_start then
        update public.subscriptions set current_period_end = p_payment.period_start, updated_at = v_now
        where id = v_sub.id;
        update public.users set plan_period_end = p_payment.period_start, updated_at = v_now
        where id = p_payment.user_id;
        v_note := 'the period it bought is taken back: the subscription ends ' || p_payment.period_start;
    elsif p_payment.period_end = v_sub.current_period_end then
        -- The refunded period is the one running: the subscription ends now.
        update public.subscriptions
        set current_period_end = greatest(v_now, current_period_start + interval '1 microsecond'), updated_at = v_now
        where id = v_sub.id
        returning * into v_sub;
        update public.users set plan_period_end = v_sub.current_period_end, updated_at = v_now
        where id = p_payment.user_id;
        perform payments.end_subscription(v_sub);
        v_note := 'the running period is taken back: the subscription ended';
    else
        v_note := 'subscription not adjusted: its period is not the one this payment bought';
    end if;

    update public.payments
    set status = 'refunded', updated_at = v_now, status_reason = left('refunded: ' || p_reason, 500)
    where id = p_payment.id;
    update payments.refunds
    set status = 'refunded', completed_at = v_now, updated_at = v_now, credits_clawed_back = v_clawed,
        credits_shortfall = v_shortfall, note = left(v_note, 500)
    where id = p_refund.id
    returning * into v_result;
    return v_result;
end
$$;

create or replace function payments.refund_json(p_refund payments.refunds, p_order_id text)
returns jsonb
language sql
immutable
set search_path = ''
as $$
    select jsonb_build_object(
        'refund_id', p_refund.id, 'order_id', p_order_id, 'origin', p_refund.origin,
        'amount_kwd', p_refund.amount_kwd, 'status', p_refund.status, 'reason', p_refund.reason,
        'credits_clawed_back', p_refund.credits_clawed_back, 'credits_shortfall', p_refund.credits_shortfall,
        'note', p_refund.note, 'last_error', p_refund.last_error, 'completed_at', p_refund.completed_at
    )
$$;

-- UPayments reported the payment refunded or voided (its status answer): complete the refund
-- we asked for, or record one it made on its own. The caller holds the locks.
create or replace function payments.record_provider_refund(p_payment public.payments, p_result text)
returns payments.refunds
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_refund payments.refunds;
begin
    select * into v_refund from payments.refunds as r where r.payment_id = p_payment.id for update;
    if not found then
        insert into payments.refunds (payment_id, origin, amount_kwd, reason, status, created_at, updated_at)
        values (
            p_payment.id, 'provider', coalesce(p_payment.captured_amount_kwd, p_payment.amount_kwd),
            'UPayments reported ' || left(p_result, 50), 'submitting', v_now, v_now
        )
        returning * into v_refund;
    elsif v_refund.status = 'refunded' then
        return v_refund;
    end if;
    return payments.take_back(p_payment, v_refund, v_refund.reason);
end
$$;

-- Ask for a refund of a captured payment (paid or needs_review), of its whole captured amount.
-- Idempotent per payment: asking again returns the refund already asked for.
create or replace function payments.request_refund(p_order_id text, p_reason text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_reason text := billing.require_text(p_reason, 'reason', 500, true);
    v_payment public.payments;
    v_refund payments.refunds;
begin
    v_payment := payments.lock_payment(p_order_id);
    select * into v_refund from payments.refunds as r where r.payment_id = v_payment.id;
    if found then
        return payments.refund_json(v_refund, v_payment.order_id) || jsonb_build_object('replay', true);
    end if;
    if v_payment.status not in ('paid', 'needs_review') then
        perform private.raise_error('PAY_009', format('order %s is %s, not captured', p_order_id, v_payment.status));
    end if;
    if v_payment.track_id is null then
        perform private.raise_error('PAY_009', format('order %s has no track id to refund', p_order_id));
    end if;
    -- A domain is registered or refunded, never both.
    if v_payment.purpose = 'domain' and exists (
        select from public.domain_orders as o
        where o.payment_id = v_payment.id and o.state in ('submitting', 'reconciling', 'registered')
    ) then
        perform private.raise_error('PAY_009', format('order %s bought a domain that is registered or being registered',
            p_order_id));
    end if;
    insert into payments.refunds (payment_id, origin, amount_kwd, reason, status, created_at, updated_at)
    values (
        v_payment.id, 'requested', coalesce(v_payment.captured_amount_kwd, v_payment.amount_kwd), v_reason,
        'requested', v_now, v_now
    )
    returning * into v_refund;
    return payments.refund_json(v_refund, v_payment.order_id) || jsonb_build_object('replay', false);
end
$$;

-- The refunds the job should submit, oldest first.
create or replace function payments.refund_batch(p_limit integer default 20)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(jsonb_agg(jsonb_build_object(
        'refund_id', b.id, 'order_id', b.order_id, 'track_id', b.track_id, 'amount_kwd', b.amount_kwd
    ) order by b.created_at), '[]'::jsonb)
    from (
        select r.id, p.order_id, p.track_id, r.amount_kwd, r.created_at
        from payments.refunds as r
        inner join public.payments as p on r.payment_id = p.id
        where r.status = 'requested'
        order by r.created_at
        limit greatest(least(p_limit, 200), 0)
    ) as b
$$;

-- Before create-refund is called: requested -> submitting, committed. False when another worker
-- took it (or it is no longer requested).
create or replace function payments.begin_refund(p_refund_id uuid, p_refund_order_id text)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
    update payments.refunds
    set status = 'submitting', provider_refund_order_id = left(p_refund_order_id, 255), updated_at = billing.clock()
    where id = p_refund_id and status = 'requested';
    return found;
end
$$;

-- After create-refund: 'refunded' (UPayments accepted it), 'failed' (it refused: nothing was
-- refunded) or 'unknown' (no usable answer: an operator checks with UPayments).
create or replace function payments.finish_refund(p_refund_id uuid, p_outcome text, p_provider jsonb, p_error text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_refund payments.refunds;
    v_order text;
    v_payment public.payments;
begin
    if p_outcome is null or p_outcome not in ('refunded', 'failed', 'unknown') then
        perform private.raise_error('VAL_001', 'outcome must be refunded, failed or unknown');
    end if;
    if p_provider is not null and jsonb_typeof(p_provider) <> 'object' then
        perform private.raise_error('VAL_001', 'provider must be a JSON object or null');
    end if;
    select p.order_id into v_order
    from payments.refunds as r inner join public.payments as p on r.payment_id = p.id
    where r.id = p_refund_id;
    if not found then
        perform private.raise_error('PAY_010', format('no refund %s', p_refund_id));
    end if;
    v_payment := payments.lock_payment(v_order);
    select * into v_refund from payments.refunds as r where r.id = p_refund_id for update;
    if v_refund.status <> 'submitting' then
        return payments.refund_json(v_refund, v_order) || jsonb_build_object('replay', true);
    end if;
    update payments.refunds
    set provider_refund_id = coalesce(left(p_provider ->> 'refund_order_id', 255), provider_refund_id),
        provider_refund_arn = coalesce(left(p_provider ->> 'refund_arn', 255), provider_refund_arn),
        last_error = left(p_error, 500), updated_at = v_now,
        status = case p_outcome when 'failed' then 'failed' when 'unknown' then 'needs_review' else status end
    where id = v_refund.id
    returning * into v_refund;
    if p_outcome = 'refunded' then
        v_refund := payments.take_back(v_payment, v_refund, v_refund.reason);
    end if;
    return payments.refund_json(v_refund, v_order) || jsonb_build_object('replay', false);
end
$$;

create or replace function public.request_refund(order_id text, reason text)
returns public.refund_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.refund_result, payments.request_refund(order_id, reason))
$$;

create or replace function public.refund_batch(max_rows integer default 20)
returns setof public.refund_batch_item
language sql
stable
set search_path = ''
as $$
    select * from jsonb_populate_recordset(null::public.refund_batch_item, payments.refund_batch(max_rows))
$$;

create or replace function public.begin_refund(refund_id uuid, refund_order_id text)
returns boolean
language sql
volatile
set search_path = ''
as $$
    select payments.begin_refund(refund_id, refund_order_id)
$$;

create or replace function public.finish_refund(refund_id uuid, outcome text, provider jsonb, error text)
returns public.refund_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.refund_result, payments.finish_refund(refund_id, outcome, provider, error))
$$;

revoke all on function payments.take_back(public.payments, payments.refunds, text),
payments.refund_json(payments.refunds, text), payments.record_provider_refund(public.payments, text) from public;
revoke all on function payments.request_refund(text, text), payments.refund_batch(integer),
payments.begin_refund(uuid, text), payments.finish_refund(uuid, text, jsonb, text),
public.request_refund(text, text), public.refund_batch(integer), public.begin_refund(uuid, text),
public.finish_refund(uuid, text, jsonb, text) from public;
grant execute on function payments.request_refund(text, text), payments.refund_batch(integer),
payments.begin_refund(uuid, text), payments.finish_refund(uuid, text, jsonb, text),
public.request_refund(text, text), public.refund_batch(integer), public.begin_refund(uuid, text),
public.finish_refund(uuid, text, jsonb, text) to service_role;
