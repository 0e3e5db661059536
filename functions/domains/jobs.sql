-- The domain bookkeeping job (`kwq8 jobs run` and pg_cron, with the payments job): orders whose
-- checkout closed unpaid are cancelled, registered domains near expiry show renewal_due and
-- expired ones lapsed (never deleted), and spent budget rows older than a day are dropped.
create or replace function domains.run_jobs()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_settings domains.settings;
    v_cancelled integer;
    v_due integer;
    v_lapsed integer;
    v_pruned integer;
begin
    select * into strict v_settings from domains.settings as s where s.id;
    update public.domain_orders as o
    set state = 'cancelled', updated_at = now()
    from public.payments as p
    where o.payment_id = p.id and o.state = 'awaiting_payment' and p.status in ('failed', 'cancelled');
    get diagnostics v_cancelled = row_count;
    update public.domains
    set renewal_due = true, updated_at = now()
    where registration_expires_at is not null and not renewal_due
        and registration_expires_at - v_settings.renewal_notice <= now();
    get diagnostics v_due = row_count;
    update public.domains
    set lapsed = true, updated_at = now()
    where registration_expires_at is not null and not lapsed and registration_expires_at <= now();
    get diagnostics v_lapsed = row_count;
    delete from domains.call_budget
    where taken_at < clock_timestamp() - make_interval(secs => v_settings.window_seconds * 1.05 * 1440);
    get diagnostics v_pruned = row_count;
    return jsonb_build_object(
        'domain_orders_cancelled', v_cancelled, 'domains_renewal_due', v_due, 'domains_lapsed', v_lapsed,
        'registrar_budget_rows_deleted', v_pruned
    );
end
$$;

-- The audit behind `kwq8 domains audit`: one row per violated invariant. Every paid domain
-- order is registered (or on its way) or refunded, never both and never neither; nothing is
-- registered without a captured payment; a registered order has exactly one successful create;
-- an active domain was verified.
create or replace function domains.audit_domains()
returns table (fqdn text, problem text, detail text)
language sql
stable
security definer
set search_path = ''
as $$
    with orders as (
        select
            o.*,
            p.status as payment_status,
            p.order_id as payment_order_id,
            r.status as refund_status,
            (select count(*) from domains.registrar_calls as c where c.order_id = o.id and c.state = 'succeeded')
                as creates
        from public.domain_orders as o
        inner join public.payments as p on o.payment_id = p.id
        left join payments.refunds as r on p.id = r.payment_id
    )
    select o.fqdn, 'paid order neither registered nor refunded',
        format('order %s is %s, payment %s %s, no refund', o.id, o.state, o.payment_order_id, o.payment_status)
    from orders as o
    where o.payment_status in ('paid', 'needs_review') and o.refund_status is null
        and o.state in ('awaiting_payment', 'cancelled', 'failed')
    union all
    select o.fqdn, 'registered and refunded', format('order %s, refund %s', o.id, o.refund_status)
    from orders as o
    where o.state = 'registered' and o.refund_status is not null and o.refund_status <> 'failed'
    union all
    select o.fqdn, 'registration without a captured payment',
        format('order %s, payment %s %s', o.id, o.payment_order_id, o.payment_status)
    from orders as o
    where (o.state in ('registered', 'submitting', 'reconciling') or o.creates > 0)
        and o.payment_status not in ('paid', 'needs_review', 'refunded')
    union all
    select o.fqdn, 'registered order without exactly one successful create', format('%s successful creates', o.creates)
    from orders as o
    where (o.state = 'registered') <> (o.creates = 1) or o.creates > 1
    union all
    select o.fqdn, 'registered order without its domain', format('order %s', o.id)
    from orders as o
    where o.state = 'registered' and o.action = 'register'
        and not exists (select from public.domains as d where d.order_id = o.id)
    union all
    select d.fqdn, 'active domain without verified_at', format('domain %s', d.id)
    from public.domains as d
    where d.status = 'active' and d.verified_at is null
$$;

revoke all on function domains.run_jobs(), domains.audit_domains() from public;
grant execute on function domains.run_jobs() to service_role;
