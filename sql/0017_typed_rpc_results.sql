-- 0017: every RPC the API roles call answers a named composite type (or a set of one) instead of
-- bare jsonb, so the generated Database type and Zod schemas know its fields. The attributes are
-- the keys of the JSON objects these RPCs answered, in that order, and every one of those keys
-- was present in every answer (null or not), so the JSON on the wire keeps its shape
-- (tests/test_rpc_wire.py compares it with answers recorded before this revision).

-- A hold, as its owner reads it while a generation runs, and after an extension.
create type public.hold_state as (
    hold_id uuid, action text, amount numeric, status text, captured_amount numeric, expires_at timestamptz
);
create type public.hold_extension as (hold_id uuid, expires_at timestamptz, extensions_left integer);
create type public.credit_sweep as (holds_released integer, grants_expired integer);

-- The registrant contact as stored (public.domain_contacts without its user).
create type public.domain_contact as (
    first_name text, last_name text, organization text, address1 text, address2 text, city text,
    state_province text, postal_code text, country text, phone text, email text, updated_at timestamptz
);

create type public.storage_cleanup_item as (project_id uuid, bucket_id text, names text []);
create type public.storage_cleanup_result as (project_id uuid, remaining integer, done boolean);

-- The credit proration of an upgrade: quoted, then stored on the payment it was quoted for.
create type public.checkout_proration as (
    from_plan text, from_price_kwd numeric, to_price_kwd numeric, period_end timestamptz, fraction numeric,
    credits numeric
);
create type public.checkout_quote as (
    plan text, kind text, amount_kwd numeric, currency text, proration public.checkout_proration
);
-- A payment as callers see it; payment_result adds whether the call only answered an earlier one.
create type public.payment_state as (
    payment_id uuid, order_id text, user_id uuid, purpose text, plan text, credit_pack text, kind text,
    amount_kwd numeric, currency text, payment_method text, status text, status_reason text, fulfilment text,
    credits_granted numeric, proration public.checkout_proration, track_id text, payment_url text,
    created_at timestamptz, paid_at timestamptz, closed_at timestamptz
);
create type public.payment_result as (
    payment_id uuid, order_id text, user_id uuid, purpose text, plan text, credit_pack text, kind text,
    amount_kwd numeric, currency text, payment_method text, status text, status_reason text, fulfilment text,
    credits_granted numeric, proration public.checkout_proration, track_id text, payment_url text,
    created_at timestamptz, paid_at timestamptz, closed_at timestamptz, replay boolean
);
create type public.payment_event_lookup as (
    event_final boolean, event_outcome text, payment_known boolean, order_id text, payment_status text
);
create type public.payment_event_result as (
    event_id bigint, duplicate boolean, outcome text, final boolean, status_disagrees boolean,
    payment public.payment_state
);
create type public.status_check_result as (outcome text, payment public.payment_state);
create type public.reconcile_candidate as (order_id text, track_id text, status text);
create type public.refund_result as (
    refund_id uuid, order_id text, origin text, amount_kwd numeric, status text, reason text,
    credits_clawed_back numeric, credits_shortfall numeric, note text, last_error text, completed_at timestamptz,
    replay boolean
);
create type public.refund_batch_item as (refund_id uuid, order_id text, track_id text, amount_kwd numeric);
create type public.subscription_state as (
    plan text, status text, current_period_start timestamptz, current_period_end timestamptz,
    cancel_at_period_end boolean
);
create type public.plan_change as (
    plan text, status text, current_period_start timestamptz, current_period_end timestamptz,
    cancel_at_period_end boolean, scheduled_plan text, change_at timestamptz
);
create type public.payment_jobs_result as (
    subscriptions_ended integer, subscription_credits_expired integer, checkouts_abandoned integer,
    holds_released integer, grants_expired integer, domain_orders_cancelled integer, domains_lapsed integer,
    domains_renewal_due integer, registrar_budget_rows_deleted integer, rate_limit_rows_deleted integer
);
create type public.rate_limit_hit as (allowed boolean, hits integer, "limit" integer, retry_after integer);
create type public.status_call as (allowed boolean, priority text, retry_after integer);

grant usage on type public.hold_state, public.hold_extension, public.credit_sweep, public.domain_contact,
public.storage_cleanup_item, public.storage_cleanup_result, public.checkout_proration, public.checkout_quote,
public.payment_state, public.payment_result, public.payment_event_lookup, public.payment_event_result,
public.status_check_result, public.reconcile_candidate, public.refund_result, public.refund_batch_item,
public.subscription_state, public.plan_change, public.payment_jobs_result, public.rate_limit_hit,
public.status_call to anon, authenticated, service_role;

-- A function's result type cannot change in place: the function files create them again, with
-- their grants.
-- squawk-ignore ban-drop-function
drop function if exists public.get_hold(uuid), public.extend_hold(uuid, uuid), public.run_credit_sweepers(),
public.set_domain_contact(jsonb), public.storage_cleanup_batch(integer), public.finish_storage_cleanup(uuid, text),
public.create_checkout(uuid, text, text, text), public.attach_checkout_charge(text, text, text),
public.record_checkout_error(text, text), public.preview_checkout(uuid, text), public.get_payment(text, uuid),
public.confirm_payment(text, text, text, numeric, text), public.record_payment_event(text, text, text, jsonb, jsonb),
public.lookup_payment_event(text, text, text, text), public.request_refund(text, text),
public.refund_batch(integer), public.finish_refund(uuid, text, jsonb, text), public.reconcile_candidates(integer),
public.record_status_check(text, jsonb), public.schedule_plan_change(uuid, text), public.run_payment_jobs(),
public.set_cancel_at_period_end(uuid, boolean), public.hit_rate_limit(text, integer, integer),
public.take_status_call(text), public.create_pack_checkout(uuid, text, text, text);
