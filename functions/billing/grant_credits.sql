-- Granting credits (trusted servers only): purchases, promotions, refunds as goodwill,
-- operator adjustments, and the monthly credits of a plan. Daily bonuses are granted by the
-- system (billing.ensure_daily_bonus), never through here.
create or replace function billing.grant_credits(
    p_user uuid, p_amount numeric, p_source text, p_expires_at timestamptz, p_key text, p_description text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_max numeric := (select s.max_grant_credits from billing.settings as s);
    v_amount numeric := billing.require_amount(p_amount, v_max);
    v_description text := billing.require_text(p_description, 'description', 500, false);
    v_fingerprint text;
    v_prior public.credit_transactions;
    v_tx public.credit_transactions;
begin
    p_key := billing.server_key(p_key);
    if p_user is null then
        perform private.raise_error('CREDIT_014', 'user_id is required');
    end if;
    if p_source is null or p_source not in ('monthly', 'purchase', 'promo', 'refund', 'adjustment') then
        perform private.raise_error(
            'CREDIT_013', format('source must be monthly, purchase, promo, refund or adjustment, got %s',
                coalesce(p_source, 'null'))
        );
    end if;
    if p_expires_at is not null and not isfinite(p_expires_at) then
        perform private.raise_error('CREDIT_013', 'expires_at must be a finite time (or null for no expiry)');
    end if;
    v_fingerprint := billing.fingerprint('grant', jsonb_build_object(
        'amount', v_amount, 'source', p_source, 'expires_at', p_expires_at, 'description', v_description
    ));
    perform billing.lock_user(p_user, billing.clock());
    v_prior := billing.replay_entry(p_user, p_key, 'grant', v_fingerprint);
    if v_prior.id is not null then
        v_tx := v_prior;
    else
        -- Checked after the replay lookup: a retry must get its first answer even once the
        -- expiry it asked for has passed.
        if p_expires_at <= billing.clock() then
            perform private.raise_error('CREDIT_013', 'expires_at must be in the future (or null for no expiry)');
        end if;
        v_tx := billing.add_grant(
            p_user, p_source, v_amount, p_expires_at, null,
            coalesce(v_description, initcap(p_source) || ' credits'), p_key, v_fingerprint
        );
    end if;
    return jsonb_build_object(
        'transaction_id', v_tx.id, 'grant_id', v_tx.grant_id, 'amount', v_tx.credits_amount,
        'expires_at', (v_tx.metadata ->> 'expires_at')::timestamptz, 'balance', v_tx.balance_after
    );
end
$$;

create or replace function public.grant_credits(
    user_id uuid, amount numeric, source text, expires_at timestamptz, idempotency_key text,
    description text default null
)
returns public.credit_grant
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(
        null::public.credit_grant,
        billing.grant_credits(user_id, amount, source, expires_at, idempotency_key, description)
    )
$$;

-- A plan's monthly credits for one billing period, called by the payments code on activation
-- and renewal. They stay usable until the end of the period after it (plans.rollover_periods).
create or replace function billing.grant_monthly_credits(
    p_user uuid, p_plan text, p_period_end timestamptz, p_key text
)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_plan public.plans;
begin
    select * into v_plan from public.plans where code = p_plan;
    if not found then
        perform private.raise_error('VAL_001', format('unknown plan %s', coalesce(p_plan, 'null')));
    end if;
    if v_plan.monthly_credits = 0 then
        return null;
    end if;
    return billing.grant_credits(
        p_user, v_plan.monthly_credits, 'monthly',
        p_period_end + v_plan.rollover_periods * v_plan.billing_period, p_key,
        format('%s plan: monthly credits', v_plan.name_en)
    );
end
$$;

revoke all on function billing.grant_credits(uuid, numeric, text, timestamptz, text, text),
public.grant_credits(uuid, numeric, text, timestamptz, text, text),
billing.grant_monthly_credits(uuid, text, timestamptz, text) from public;
grant execute on function billing.grant_credits(uuid, numeric, text, timestamptz, text, text),
public.grant_credits(uuid, numeric, text, timestamptz, text, text),
billing.grant_monthly_credits(uuid, text, timestamptz, text) to service_role;
