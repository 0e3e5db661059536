-- The dashboard's usage chart: credits the caller used per action and Kuwait calendar day over
-- the last `days` days (today included), net of holds released and spends refunded. An active
-- hold counts as used until it is released; one past its expiry is released already (the
-- sweeper only writes it down), as capture_hold and get_hold see it. Days without usage have no row.
create or replace function billing.get_credit_usage(p_days integer)
returns table (day date, action text, name_ar text, name_en text, credits numeric, entries bigint)
language plpgsql
stable
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
    v_user uuid := billing.require_caller();
    v_zone text := (select s.business_time_zone from billing.settings as s);
    v_since timestamptz;
begin
    if p_days is null or p_days not between 1 and 366 then
        perform private.raise_error('VAL_001', format('days must be between 1 and 366, got %s', coalesce(p_days::text, 'null')));
    end if;
    v_since := (date_trunc('day', billing.clock() at time zone v_zone) - (p_days - 1) * interval '1 day') at time zone v_zone;
    return query
    select
        (t.created_at at time zone v_zone)::date,
        t.action,
        c.name_ar,
        c.name_en,
        -sum(case when h.id is null then t.credits_amount else 0 end),
        count(*) filter (where t.transaction_type in ('spend', 'hold'))
    from public.credit_transactions as t
    left join public.action_costs as c on t.action = c.action
    left join billing.holds as h
        on t.transaction_type = 'hold' and t.hold_id = h.id and h.status = 'active' and h.expires_at <= billing.clock()
    where
        t.user_id = v_user
        and t.action is not null
        and t.transaction_type in ('spend', 'hold', 'release', 'refund')
        and t.created_at >= v_since
    group by 1, 2, 3, 4
    order by 1 desc, 2;
end
$$;

create or replace function public.get_credit_usage(days integer default 30)
returns table (day date, action text, name_ar text, name_en text, credits numeric, entries bigint)
language sql
stable
set search_path = ''
as $$
    select * from billing.get_credit_usage(days)
$$;

revoke all on function billing.get_credit_usage(integer), public.get_credit_usage(integer) from public;
grant execute on function billing.get_credit_usage(integer), public.get_credit_usage(integer) to authenticated;
