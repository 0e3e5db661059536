-- The user's plan while its period runs, else null. Policies and quotas call it, so it is a
-- SECURITY DEFINER helper in a non-exposed schema (it reads public.users past RLS).
create or replace function billing.active_plan(p_user_id uuid)
returns public.plans
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
    v_plan public.plans;
begin
    select p.* into v_plan
    from public.users as u
    inner join public.plans as p on u.plan = p.code
    where u.id = p_user_id and u.plan_period_end > billing.clock();
    return v_plan;
end
$$;

revoke all on function billing.active_plan(uuid) from public, anon, authenticated;
-- Only SECURITY DEFINER callers (spend, reserve, summary, quota) use it: a signed-in user calling
-- it directly could read any user's plan.
grant execute on function billing.active_plan(uuid) to service_role;
