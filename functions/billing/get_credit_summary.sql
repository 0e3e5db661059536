-- What the browser shows: balance, plan and period end, today's bonus, active holds, and the
-- grants the balance is made of, by source and expiry. Volatile because it first brings the
-- user up to date (expiry, today's bonus), as every credit call does.
create or replace function billing.get_credit_summary()
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_user public.users := billing.lock_user(billing.require_caller(), billing.clock());
    v_now timestamptz := billing.clock();
    v_zone text := (select s.business_time_zone from billing.settings as s);
    v_plan public.plans := billing.active_plan(v_user.id);
    v_bonus billing.grants;
begin
    select * into v_bonus from billing.grants
    where user_id = v_user.id and source = 'daily_bonus' and grant_day = (v_now at time zone v_zone)::date;
    return jsonb_build_object(
        'balance', v_user.credits_balance,
        'plan', case when v_plan.code is null then null else jsonb_build_object(
            'code', v_plan.code, 'name_ar', v_plan.name_ar, 'name_en', v_plan.name_en,
            'monthly_credits', v_plan.monthly_credits, 'daily_bonus', v_plan.daily_bonus
        ) end,
        'period_end', case when v_plan.code is null then null else v_user.plan_period_end end,
        'daily_bonus', jsonb_build_object(
            'amount', coalesce(v_bonus.amount, 0),
            'remaining', coalesce(v_bonus.remaining, 0),
            'resets_at', billing.next_business_midnight(v_now)
        ),
        'held', coalesce((
            select sum(h.amount) from billing.holds as h where h.user_id = v_user.id and h.status = 'active'
        ), 0),
        'active_holds', coalesce((
            select jsonb_agg(jsonb_build_object(
                'hold_id', h.id, 'action', h.action, 'amount', h.amount, 'expires_at', h.expires_at
            ) order by h.expires_at)
            from billing.holds as h where h.user_id = v_user.id and h.status = 'active'
        ), '[]'::jsonb),
        'grants', coalesce((
            select jsonb_agg(jsonb_build_object(
                'source', g.source, 'remaining', g.remaining, 'expires_at', g.expires_at
            ) order by g.expires_at nulls last, g.source)
            from (
                select gr.source, gr.expires_at, sum(gr.remaining) as remaining
                from billing.grants as gr
                where gr.user_id = v_user.id and gr.remaining > 0
                group by gr.source, gr.expires_at
            ) as g
        ), '[]'::jsonb)
    );
end
$$;

create or replace function public.get_credit_summary()
returns public.credit_summary
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.credit_summary, billing.get_credit_summary())
$$;

revoke all on function billing.get_credit_summary(), public.get_credit_summary() from public;
grant execute on function billing.get_credit_summary(), public.get_credit_summary() to authenticated;
