-- The daily bonus: on each Asia/Kuwait calendar day an active subscriber gets the plan's bonus
-- as a grant that is spent first and expires at the next local midnight. users.daily_bonus_day
-- makes the check free once granted; the unique index makes a second grant impossible.
create or replace function billing.ensure_daily_bonus(p_user public.users)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
    v_zone text := (select s.business_time_zone from billing.settings as s);
    v_now timestamptz := billing.clock();
    v_today date := (v_now at time zone v_zone)::date;
    v_plan public.plans;
begin
    -- A later day's bonus may be granted already, by a call whose transaction began after this
    -- one's (after Kuwait midnight): the day never moves back.
    if p_user.daily_bonus_day >= v_today then
        return false;
    end if;
    v_plan := billing.active_plan(p_user.id);
    if v_plan.code is null or v_plan.daily_bonus <= 0 then
        return false;  -- checked again on the next call, so a plan bought later today still gets it
    end if;
    update public.users set daily_bonus_day = v_today where id = p_user.id;
    if not exists (
        select from billing.grants as g
        where g.user_id = p_user.id and g.source = 'daily_bonus' and g.grant_day = v_today
    ) then
        perform billing.add_grant(
            p_user.id, 'daily_bonus', v_plan.daily_bonus,
            billing.next_business_midnight(v_now), v_today,
            'Daily bonus', null, null, jsonb_build_object('plan', v_plan.code, 'day', v_today)
        );
    end if;
    return true;
end
$$;

revoke all on function billing.ensure_daily_bonus(public.users) from public;
