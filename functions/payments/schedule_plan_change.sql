-- Downgrades at the period end (trusted servers only: POST /billing/subscription/change). The
-- subscription keeps its plan and credits until the period ends; scheduled_plan names the plan it
-- continues on. Renewals are prepaid (no card on file), so nothing is charged now: once the
-- period has ended, a checkout for the scheduled plan is a renewal (payments.quote) that
-- continues the period chain and switches the plan. Asking for the current plan clears the
-- schedule; a dearer plan is an upgrade, bought through checkout (PAY_011). Scheduling a change
-- also means the customer renews: it clears cancel_at_period_end.
create or replace function payments.schedule_plan_change(p_user uuid, p_plan text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_sub public.subscriptions;
    v_plan public.plans;
    v_current public.plans;
begin
    if p_user is null then
        perform private.raise_error('CREDIT_014', 'user_id is required');
    end if;
    select * into v_plan from public.plans as p where p.code = p_plan and p.active;
    if not found then
        perform private.raise_error('VAL_001', format('unknown or inactive plan %s', coalesce(p_plan, 'null')));
    end if;
    perform billing.lock_user(p_user, v_now);
    select * into v_sub from public.subscriptions as s where s.user_id = p_user for update;
    if not found or v_sub.status <> 'active' or v_sub.current_period_end <= v_now then
        perform private.raise_error('SUB_001', format('user %s has no running subscription', p_user));
    end if;
    select * into strict v_current from public.plans as p where p.code = v_sub.plan;
    if v_plan.price_kwd > v_current.price_kwd then
        perform private.raise_error(
            'PAY_011', format('%s costs more than %s', v_plan.code, v_current.code), 'POST /billing/checkout'
        );
    end if;
    update public.subscriptions
    set
        scheduled_plan = nullif(v_plan.code, v_sub.plan),
        cancel_at_period_end = case when v_plan.code = v_sub.plan then cancel_at_period_end else false end,
        updated_at = v_now
    where id = v_sub.id
    returning * into v_sub;
    return jsonb_build_object(
        'plan', v_sub.plan, 'status', v_sub.status, 'current_period_start', v_sub.current_period_start,
        'current_period_end', v_sub.current_period_end, 'cancel_at_period_end', v_sub.cancel_at_period_end,
        'scheduled_plan', v_sub.scheduled_plan,
        'change_at', case when v_sub.scheduled_plan is not null then v_sub.current_period_end end
    );
end
$$;

create or replace function public.schedule_plan_change(user_id uuid, plan text)
returns public.plan_change
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.plan_change, payments.schedule_plan_change(user_id, plan))
$$;

revoke all on function payments.schedule_plan_change(uuid, text), public.schedule_plan_change(uuid, text) from public;
grant execute on function payments.schedule_plan_change(uuid, text), public.schedule_plan_change(uuid, text)
to service_role;
