-- Undoes 0017_typed_rpc_results (development only). Dropping the result types drops the RPCs
-- returning them; the function files of the older tree create them again (`kwq8 db migrate`).
drop type public.hold_state, public.hold_extension, public.credit_sweep, public.domain_contact,
public.storage_cleanup_item, public.storage_cleanup_result, public.checkout_quote, public.payment_result,
public.payment_event_result, public.status_check_result, public.payment_state, public.checkout_proration,
public.payment_event_lookup, public.reconcile_candidate, public.refund_result, public.refund_batch_item,
public.subscription_state, public.plan_change, public.payment_jobs_result, public.rate_limit_hit,
public.status_call cascade;
