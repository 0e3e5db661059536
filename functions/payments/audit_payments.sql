-- The payments audit behind `kwq8 payments audit`: one row per violated invariant, none when
-- every payment is accounted for. Money UPayments captured is never left unrecorded: a payment
-- with a capture on record is paid, refunded or needs_review. A fulfilled payment's credits are
-- in the ledger exactly once, for the amount it reports; a payment that delivered nothing
-- granted nothing. A refund completes together with its payment. An active subscription's
-- last payment is one that was paid and applied, and the user's plan columns agree with it.
create or replace function payments.audit_payments()
returns table (order_id text, problem text, detail text)
language sql
stable
security definer
set search_path = ''
as $$
    with grants as (
        select
            p.id as payment_id,
            count(t.id) as entries,
            coalesce(sum(t.credits_amount), 0) as credits
        from public.payments as p
        left join public.credit_transactions as t
            on t.user_id = p.user_id and t.transaction_type = 'grant'
                and t.idempotency_key in ('srv:payment:' || p.order_id, 'payment:' || p.order_id)
        group by p.id
    ),
    captured as (
        select p.id as payment_id
        from public.payments as p
        where p.captured_amount_kwd is not null
            or exists (
                select from payments.provider_events as e
                where e.payment_id = p.id and payments.result_class(e.verified_result) = 'captured'
                    and e.outcome in ('applied', 'needs_review', 'late')
            )
    )
    select p.order_id, 'captured payment not recorded as received', format('status %s', p.status)
    from public.payments as p
    inner join captured as c on p.id = c.payment_id
    where p.status not in ('paid', 'refunded', 'needs_review')
    union all
    select p.order_id, 'fulfilled payment without exactly one grant',
        format('%s grant entries for %s credits, the payment reports %s', g.entries, g.credits, p.credits_granted)
    from public.payments as p
    inner join grants as g on p.id = g.payment_id
    where p.fulfilment = 'fulfilled' and p.credits_granted > 0
        and (g.entries <> 1 or g.credits <> p.credits_granted)
    union all
    select p.order_id, 'payment that delivered nothing has a grant', format('%s grant entries', g.entries)
    from public.payments as p
    inner join grants as g on p.id = g.payment_id
    where (p.fulfilment is distinct from 'fulfilled' or p.credits_granted = 0) and g.entries > 0
    union all
    select p.order_id, 'refund and payment disagree',
        format('payment %s, refund %s', p.status, coalesce(r.status, 'none'))
    from public.payments as p
    left join payments.refunds as r on p.id = r.payment_id
    where (p.status = 'refunded') <> (r.status is not distinct from 'refunded')
    union all
    select p.order_id, 'active subscription rests on a payment that was not applied',
        format('payment %s (%s)', p.status, coalesce(p.fulfilment, 'no fulfilment'))
    from public.subscriptions as s
    inner join public.payments as p on s.last_payment_id = p.id
    where s.status = 'active' and not (p.status in ('paid', 'refunded') and p.fulfilment = 'fulfilled')
    union all
    select null, 'plan columns disagree with the active subscription',
        format('user %s: plan %s until %s, subscription %s until %s', u.id, coalesce(u.plan, 'none'),
            coalesce(u.plan_period_end::text, '-'), s.plan, s.current_period_end)
    from public.subscriptions as s
    inner join public.users as u on s.user_id = u.id
    where s.status = 'active' and s.current_period_end > billing.clock()
        and (u.plan is distinct from s.plan or u.plan_period_end is distinct from s.current_period_end)
$$;

revoke all on function payments.audit_payments() from public;
