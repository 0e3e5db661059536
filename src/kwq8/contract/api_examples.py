"""One example per RPC for docs/api.md: setup steps and the call, run on the seeded database.

Every RPC an API role may execute needs an entry (`kwq8 gen types` refuses to write docs/api.md
without one, and tests/contract/test_api_docs.py fails). Steps run as a seeded user (by the names of
SEED_USERS), `anon`, `service_role` or `postgres`; setup steps hand ids to the call through
`ex.*` settings, since each step is its own request.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    as_: str
    sql: str


@dataclass(frozen=True)
class Example:
    call: Step
    setup: tuple[Step, ...] = ()


# supabase/seed.sql: one user per plan (Noura premium, Khaled basic, pro, enterprise) and one without.
SEED_USERS = {
    "noura": ("5eed0000-0000-4000-8000-000000000001", "noura@example.test"),
    "khaled": ("5eed0000-0000-4000-8000-000000000002", "khaled@example.test"),
    "free": ("5eed0000-0000-4000-8000-000000000003", "free@example.test"),
    "pro": ("5eed0000-0000-4000-8000-000000000004", "pro@example.test"),
}
NOURA = SEED_USERS["noura"][0]
KHALED = SEED_USERS["khaled"][0]
FREE = SEED_USERS["free"][0]
PRO = SEED_USERS["pro"][0]

RESERVE = Step(
    "noura",
    "select set_config('ex.hold', hold_id::text, true)\n"
    "from public.reserve_credits(action => 'page_generation', idempotency_key => 'ex-reserve-1');",
)
SPEND = Step(
    "noura",
    "select set_config('ex.transaction', transaction_id::text, true)\n"
    "from public.spend_credits(action => 'page_generation', idempotency_key => 'ex-spend-1');",
)
CHECKOUT = Step(
    "service_role",
    "select set_config('ex.order', order_id, true)\n"
    "from public.create_checkout(\n"
    f"    user_id => '{FREE}', plan => 'basic', payment_method => 'knet', idempotency_key => 'ex-checkout-1'\n"
    ");",
)
ATTACH = Step(
    "service_role",
    "select from public.attach_checkout_charge(\n"
    "    order_id => current_setting('ex.order'), track_id => 'trk_ex1', payment_url => 'https://pay.example/trk_ex1'\n"
    ");",
)
# What the billing service passes on from the provider's get-payment-status.
VERIFIED = (
    "jsonb_build_object(\n"
    "        'result', 'CAPTURED', 'track_id', 'trk_ex1', 'order_id', current_setting('ex.order'),\n"
    "        'payment_id', '100000000000000001', 'amount', '23.000', 'currency', 'KWD'\n"
    "    )"
)
CAPTURED = Step(
    "service_role",
    "select from public.record_payment_event(\n"
    "    provider => 'upayments', track_id => 'trk_ex1', notified_result => 'CAPTURED',\n"
    f"    verified => {VERIFIED},\n"
    '    payload => \'{"result": "CAPTURED", "track_id": "trk_ex1"}\'\n'
    ");",
)
PAID = (CHECKOUT, ATTACH, CAPTURED)
REFUND = Step(
    "service_role",
    "select set_config('ex.refund', refund_id::text, true)\n"
    "from public.request_refund(order_id => current_setting('ex.order'), reason => 'customer asked');",
)
BEGIN_REFUND = Step(
    "service_role",
    "select public.begin_refund(refund_id => current_setting('ex.refund')::uuid, refund_order_id => 'RF-ex1');",
)
# Deleting a project queues its Storage folder for the cleanup job (the seed stores no files).
DELETE_PROJECT = Step(
    "postgres",
    "insert into storage.objects (bucket_id, name)\n"
    "values ('project-assets', '5eed0000-0000-4000-8000-0000000000a2/logo.png'),\n"
    "       ('project-assets', '5eed0000-0000-4000-8000-0000000000a2/hero.webp');\n"
    "delete from public.projects where id = '5eed0000-0000-4000-8000-0000000000a2';",
)
# Halfway through the period at the transaction's clock, so the proration does not depend on
# when the seed ran.
HALFWAY = Step(
    "postgres",
    "update public.subscriptions\n"
    "set current_period_start = now() - interval '15 days', current_period_end = now() + interval '15 days'\n"
    f"where user_id = '{KHALED}';\n"
    "update public.users\n"
    "set plan_period_start = now() - interval '15 days', plan_period_end = now() + interval '15 days'\n"
    f"where id = '{KHALED}';",
)
# A pending payment is looked at once it is older than payments.settings.reconcile_min_age.
AGED = Step(
    "postgres",
    "update public.payments set created_at = now() - interval '1 hour' where order_id = current_setting('ex.order');",
)

EXAMPLES: dict[str, Example] = {
    "attach_checkout_charge": Example(
        Step(
            "service_role",
            "select order_id, status, track_id, payment_url\n"
            "from public.attach_checkout_charge(\n"
            "    order_id => current_setting('ex.order'), track_id => 'trk_ex1', payment_url => 'https://pay.example/trk_ex1'\n"
            ");",
        ),
        (CHECKOUT,),
    ),
    "begin_refund": Example(
        Step(
            "service_role",
            "select public.begin_refund(refund_id => current_setting('ex.refund')::uuid, refund_order_id => 'RF-ex1');",
        ),
        (*PAID, REFUND),
    ),
    "capture_hold": Example(
        Step(
            "service_role",
            "select * from public.capture_hold(\n"
            f"    user_id => '{NOURA}', hold_id => current_setting('ex.hold')::uuid, amount => 2\n"
            ");",
        ),
        (RESERVE,),
    ),
    "confirm_payment": Example(
        Step(
            "service_role",
            "select order_id, status, fulfilment, credits_granted, replay\n"
            "from public.confirm_payment(\n"
            "    order_id => current_setting('ex.order'), track_id => 'trk_ex1',\n"
            "    provider_payment_id => '100000000000000001', amount_kwd => 23.000\n"
            ");",
        ),
        (CHECKOUT, ATTACH),
    ),
    "create_checkout": Example(
        Step(
            "service_role",
            "select order_id, purpose, plan, kind, amount_kwd, currency, status\n"
            "from public.create_checkout(\n"
            f"    user_id => '{FREE}', plan => 'basic', payment_method => 'knet', idempotency_key => 'ex-checkout-1'\n"
            ");",
        )
    ),
    "create_pack_checkout": Example(
        Step(
            "service_role",
            "select order_id, purpose, credit_pack, amount_kwd, status\n"
            "from public.create_pack_checkout(\n"
            f"    user_id => '{KHALED}', credit_pack => 'pack_50', payment_method => 'knet',\n"
            "    idempotency_key => 'ex-pack-1'\n"
            ");",
        )
    ),
    "deduct_credits": Example(
        Step(
            "service_role",
            "select * from public.deduct_credits(\n"
            f"    user_id => '{KHALED}', amount => 2.5, description => 'Image upscaling',\n"
            "    idempotency_key => 'ex-deduct-1'\n"
            ");",
        )
    ),
    "extend_hold": Example(
        Step(
            "service_role",
            f"select * from public.extend_hold(user_id => '{NOURA}', hold_id => current_setting('ex.hold')::uuid);",
        ),
        (RESERVE,),
    ),
    "finish_refund": Example(
        Step(
            "service_role",
            "select status, amount_kwd, credits_clawed_back, credits_shortfall, replay\n"
            "from public.finish_refund(\n"
            "    refund_id => current_setting('ex.refund')::uuid, outcome => 'refunded',\n"
            '    provider => \'{"refund_order_id": "RF-ex1"}\', error => null\n'
            ");",
        ),
        (*PAID, REFUND, BEGIN_REFUND),
    ),
    "finish_storage_cleanup": Example(
        Step(
            "service_role",
            "-- before the Storage API deleted the two files: the folder is not empty yet\n"
            "select * from public.finish_storage_cleanup(project_id => '5eed0000-0000-4000-8000-0000000000a2');",
        ),
        (DELETE_PROJECT, Step("service_role", "select from public.storage_cleanup_batch(max_projects => 10);")),
    ),
    "get_credit_summary": Example(
        Step("noura", "select balance, held, plan, daily_bonus from public.get_credit_summary();"),
        (RESERVE,),
    ),
    "get_credit_usage": Example(
        Step("noura", "select * from public.get_credit_usage(days => 7);"),
        (
            SPEND,
            Step("noura", "select from public.spend_credits(action => 'chat_message', idempotency_key => 'ex-2');"),
        ),
    ),
    "get_hold": Example(
        Step("noura", "select * from public.get_hold(hold_id => current_setting('ex.hold')::uuid);"),
        (RESERVE,),
    ),
    "get_payment": Example(
        Step(
            "service_role",
            "select order_id, purpose, plan, amount_kwd, status\n"
            f"from public.get_payment(order_id => current_setting('ex.order'), user_id => '{FREE}');",
        ),
        (CHECKOUT,),
    ),
    "grant_credits": Example(
        Step(
            "service_role",
            "select * from public.grant_credits(\n"
            f"    user_id => '{KHALED}', amount => 20, source => 'promo', expires_at => now() + interval '30 days',\n"
            "    idempotency_key => 'ex-grant-1', description => 'Ramadan offer'\n"
            ");",
        )
    ),
    "hit_rate_limit": Example(
        Step(
            "service_role",
            "-- retry_after, the seconds until the window ends, depends on the time of the call\n"
            'select allowed, hits, "limit"\n'
            "from public.hit_rate_limit(bucket => 'login:203.0.113.7', max_hits => 5, window_seconds => 60);",
        )
    ),
    "lookup_payment_event": Example(
        Step(
            "service_role",
            "select event_final, event_outcome, payment_known, payment_status\n"
            "from public.lookup_payment_event(\n"
            "    provider => 'upayments', track_id => 'trk_ex1', result => 'CAPTURED',\n"
            "    order_id => current_setting('ex.order')\n"
            ");",
        ),
        PAID,
    ),
    "preview_checkout": Example(
        Step("service_role", f"select * from public.preview_checkout(user_id => '{KHALED}', plan => 'pro');"),
        (HALFWAY,),
    ),
    "reconcile_candidates": Example(
        Step("service_role", "select * from public.reconcile_candidates(max_rows => 10);"),
        (CHECKOUT, ATTACH, AGED),
    ),
    "record_checkout_error": Example(
        Step(
            "service_role",
            "select order_id, status, status_reason\n"
            "from public.record_checkout_error(order_id => current_setting('ex.order'), error => 'timeout');",
        ),
        (CHECKOUT,),
    ),
    "record_payment_event": Example(
        Step(
            "service_role",
            "select duplicate, outcome, final, status_disagrees, (payment).status, (payment).credits_granted\n"
            "from public.record_payment_event(\n"
            "    provider => 'upayments', track_id => 'trk_ex1', notified_result => 'CAPTURED',\n"
            f"    verified => {VERIFIED},\n"
            '    payload => \'{"result": "CAPTURED", "track_id": "trk_ex1"}\'\n'
            ");",
        ),
        (CHECKOUT, ATTACH),
    ),
    "record_status_check": Example(
        Step(
            "service_role",
            "select outcome, (payment).status, (payment).credits_granted\n"
            "from public.record_status_check(\n"
            f"    order_id => current_setting('ex.order'),\n    verified => {VERIFIED}\n"
            ");",
        ),
        (CHECKOUT, ATTACH),
    ),
    "refund_batch": Example(
        Step("service_role", "select * from public.refund_batch(max_rows => 20);"),
        (*PAID, REFUND),
    ),
    "refund_transaction": Example(
        Step(
            "service_role",
            "select * from public.refund_transaction(\n"
            f"    user_id => '{NOURA}', transaction_id => current_setting('ex.transaction')::uuid,\n"
            "    idempotency_key => 'ex-refund-1', reason => 'the page came out empty'\n"
            ");",
        ),
        (SPEND,),
    ),
    "release_hold": Example(
        Step(
            "service_role",
            "select * from public.release_hold(\n"
            f"    user_id => '{NOURA}', hold_id => current_setting('ex.hold')::uuid,\n"
            "    failure_reason => 'generation_failed'\n"
            ");",
        ),
        (RESERVE,),
    ),
    "request_refund": Example(
        Step(
            "service_role",
            "select order_id, origin, amount_kwd, status, reason, replay\n"
            "from public.request_refund(order_id => current_setting('ex.order'), reason => 'customer asked');",
        ),
        PAID,
    ),
    "reserve_credits": Example(
        Step("noura", "select * from public.reserve_credits(action => 'page_generation', idempotency_key => 'ex-1');"),
    ),
    "run_credit_sweepers": Example(Step("service_role", "select * from public.run_credit_sweepers();")),
    "run_payment_jobs": Example(Step("service_role", "select * from public.run_payment_jobs();")),
    "schedule_plan_change": Example(
        Step("service_role", f"select * from public.schedule_plan_change(user_id => '{PRO}', plan => 'basic');"),
    ),
    "set_cancel_at_period_end": Example(
        Step("service_role", f"select * from public.set_cancel_at_period_end(user_id => '{KHALED}', cancel => true);"),
    ),
    "set_domain_contact": Example(
        Step(
            "noura",
            "select first_name, last_name, city, country, phone, email\n"
            "from public.set_domain_contact(contact => '{\n"
            '    "first_name": "Noura", "last_name": "Alotaibi", "address1": "Block 3, Street 12",\n'
            '    "city": "Salmiya", "state_province": "Hawalli", "postal_code": "22001", "country": "kw",\n'
            '    "phone": "+965.55123456", "email": "Noura@Example.test"\n'
            "}');",
        )
    ),
    "spend_credits": Example(
        Step("noura", "select * from public.spend_credits(action => 'chat_message', idempotency_key => 'ex-1');"),
    ),
    "storage_cleanup_batch": Example(
        Step("service_role", "select * from public.storage_cleanup_batch(max_projects => 10);"),
        (DELETE_PROJECT,),
    ),
    "take_status_call": Example(
        Step(
            "service_role",
            "-- retry_after, the seconds until the window ends, depends on the time of the call\n"
            "select allowed, priority from public.take_status_call(priority => 'reconcile');",
        )
    ),
}
