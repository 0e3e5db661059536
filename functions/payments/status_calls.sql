-- One call of UPayments' get-payment-status, merchant-wide: UPayments allows 30 a minute for
-- the whole account, so every service instance and job takes a call from this one counter
-- before asking. Webhooks and reconciliation may use the whole minute; a customer's refresh
-- only what is left above settings.status_calls_reserved. A refused call is not counted.
create or replace function payments.take_status_call(p_priority text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_now timestamptz := billing.clock();
    v_settings payments.settings;
    v_window timestamptz := date_trunc('minute', v_now);
    v_cap integer;
    v_hits integer;
begin
    if p_priority is null or p_priority not in ('webhook', 'reconcile', 'user') then
        perform private.raise_error('VAL_001', 'priority must be webhook, reconcile or user');
    end if;
    select * into v_settings from payments.settings;
    v_cap := case when p_priority = 'user'
        then v_settings.status_calls_per_minute - v_settings.status_calls_reserved
        else v_settings.status_calls_per_minute end;
    if v_cap > 0 then
        insert into ratelimit.rate_limits as r (bucket, window_start, hits)
        values ('upayments:get-payment-status', v_window, 1)
        on conflict (bucket, window_start) do update set hits = r.hits + 1
        where r.hits < v_cap
        returning r.hits into v_hits;
    end if;
    return jsonb_build_object(
        'allowed', v_hits is not null,
        'priority', p_priority,
        'retry_after', greatest(ceil(extract(epoch from v_window + interval '1 minute' - v_now)), 1)::integer
    );
end
$$;

create or replace function public.take_status_call(priority text)
returns public.status_call
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.status_call, payments.take_status_call(priority))
$$;

revoke all on function payments.take_status_call(text), public.take_status_call(text) from public;
grant execute on function payments.take_status_call(text), public.take_status_call(text) to service_role;
