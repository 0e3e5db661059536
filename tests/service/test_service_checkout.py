"""The billing service end to end: checkout with K-Net and cards, confirmation, provider failures."""

from __future__ import annotations

from decimal import Decimal

from kwq8.postgrest import Identity

from ..service_helpers import API_KEY, API_SECRET, NOTIFICATION_URL, Service

pytest_plugins = ("tests.service_fixtures",)


def test_knet_checkout_and_webhook_activate_the_plan(service: Service, customer: Identity) -> None:
    response = service.checkout(customer, "basic", "knet")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending" and body["amount_kwd"] == "23.000" and body["currency"] == "KWD"
    assert body["payment_url"].startswith(service.fake.origin + "/pay/")
    order_id = body["order_id"]

    # What UPayments received: the documented charge, with our key, amount in KWD with 3 decimals.
    [charge] = service.fake.charges
    assert charge.headers["authorization"] == f"Bearer {API_KEY}"
    sent = charge.json()
    assert sent["order"] == {
        "id": order_id,
        "reference": order_id,
        "description": "KWq8 basic plan (new)",
        "currency": "KWD",
        "amount": Decimal("23.000"),
    }
    assert b'"amount":23.000' in charge.body
    assert sent["language"] == "ar" and sent["paymentGateway"] == {"src": "knet"}
    assert sent["notificationUrl"] == NOTIFICATION_URL
    assert sent["returnUrl"] == f"https://kwq8.test/billing/return?order_id={order_id}"
    assert sent["cancelUrl"] == f"https://kwq8.test/billing/cancel?order_id={order_id}"
    assert charge.headers["x-signature"] and charge.headers["x-timestamp"]  # signed with the API secret

    track_id = service.track_id(order_id)
    service.fake.set_outcome(track_id, "CAPTURED")
    delivered = service.deliver(service.webhook(track_id))
    assert delivered.status_code == 200, delivered.text
    assert delivered.json() == {"received": True, "duplicate": False, "outcome": "applied"}
    assert len(service.fake.status_calls) == 1  # always re-confirmed with get-payment-status

    row = service.payment(order_id)
    assert (row["status"], row["fulfilment"], row["provider_payment_id"]) == (
        "paid",
        "fulfilled",
        service.fake.transaction(track_id)["payment_id"],
    )
    sub = service.db.sql("select plan, status from public.subscriptions where user_id = %s", (customer.user_id,))
    assert sub == [{"plan": "basic", "status": "active"}]
    assert service.monthly_credits(customer) == Decimal("100.00") and service.grants(order_id) == 1

    status = service.http.get(f"{service.origin}/billing/payments/{order_id}", headers=service.auth(customer))
    assert status.status_code == 200
    assert status.json()["status"] == "paid" and status.json()["payment_url"] is None


def test_card_payment_is_confirmed_when_the_customer_returns(service: Service, customer: Identity) -> None:
    response = service.checkout(customer, "pro", "cc", language="en")
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    sent = service.fake.charges[0].json()
    assert sent["paymentGateway"] == {"src": "cc"} and sent["language"] == "en"
    assert sent["order"]["amount"] == Decimal("38.000")
    track_id = service.track_id(order_id)

    url = f"{service.origin}/billing/payments/{order_id}"
    assert service.http.get(url, headers=service.auth(customer)).json()["status"] == "pending"
    service.fake.set_outcome(track_id, "CAPTURED")
    # Back on the return page, before any webhook: the status check confirms the payment.
    confirmed = service.http.get(url, headers=service.auth(customer)).json()
    assert confirmed["status"] == "paid" and confirmed["credits_granted"] == "200.00"
    # The webhook arriving afterwards changes nothing and costs no status call.
    calls = len(service.fake.status_calls)
    late = service.deliver(service.webhook(track_id))
    assert late.json() == {"received": True, "duplicate": False, "outcome": "late"}
    assert len(service.fake.status_calls) == calls
    assert service.grants(order_id) == 1
    # Someone else's order is not found.
    other = service.db.create_user()
    assert service.http.get(url, headers=service.auth(other)).json()["code"] == "PAY_002"


def test_declined_payment_grants_nothing(service: Service, customer: Identity) -> None:
    order_id = service.checkout(customer).json()["order_id"]
    track_id = service.track_id(order_id)
    service.fake.set_outcome(track_id, "NOT CAPTURED")
    answer = service.deliver(service.webhook(track_id))
    assert answer.status_code == 200 and answer.json()["outcome"] == "failed"
    assert service.payment(order_id)["status"] == "failed"
    assert service.grants(order_id) == 0 and service.monthly_credits(customer) == 0
    # Back on the return page, the status answer says PAY_001 with the catalogue's Arabic text.
    view = service.http.get(f"{service.origin}/billing/payments/{order_id}", headers=service.auth(customer)).json()
    message = service.db.scalar("select message_ar from public.error_codes where code = 'PAY_001'")
    assert view["status"] == "failed" and view["error"]["code"] == "PAY_001" and view["error"]["message"] == message


def test_a_payment_that_did_not_fail_carries_no_error(service: Service, customer: Identity) -> None:
    order_id = service.checkout(customer).json()["order_id"]
    view = service.http.get(f"{service.origin}/billing/payments/{order_id}", headers=service.auth(customer)).json()
    assert view["status"] == "pending" and view["error"] is None


def test_cancelled_payment_grants_nothing(service: Service, customer: Identity) -> None:
    order_id = service.checkout(customer, method=None).json()["order_id"]
    assert "paymentGateway" not in service.fake.charges[0].json()  # UPayments' own method page
    track_id = service.track_id(order_id)
    service.fake.set_outcome(track_id, "CANCELED")
    answer = service.deliver(service.webhook(track_id))
    assert answer.status_code == 200 and answer.json()["outcome"] == "cancelled"
    assert service.payment(order_id)["status"] == "cancelled" and service.grants(order_id) == 0


def test_provider_timeout_answers_pay_001_and_leaves_the_payment_pending(service: Service, customer: Identity) -> None:
    service.fake.timeout_next("charge", delay_s=5)
    response = service.checkout(customer, key="retry-me")
    assert response.status_code == 503
    assert response.json()["code"] == "PAY_001" and response.json()["message"] == "فشلت عملية الدفع"
    [row] = service.db.sql(
        "select order_id, status, track_id, last_error from public.payments where user_id = %s", (customer.user_id,)
    )
    assert (row["status"], row["track_id"]) == ("pending", None)
    assert row["last_error"].startswith("timeout")
    assert len(service.fake.charges) == 1  # a timed-out charge is never retried blindly

    # The timed-out charge may exist at UPayments: trying again with the same key does not
    # charge the order a second time, it closes it and asks for a new checkout.
    again = service.checkout(customer, key="retry-me")
    assert again.status_code == 409 and again.json()["code"] == "PAY_012"
    assert service.payment(row["order_id"])["status"] == "cancelled"
    fresh = service.checkout(customer, key="retry-me-anew")
    assert fresh.status_code == 201 and fresh.json()["order_id"] != row["order_id"]
    assert len(service.fake.charges) == 2


def test_provider_errors_answer_pay_001(service: Service, customer: Identity) -> None:
    service.fake.fail_next("charge", 500)
    assert service.checkout(customer).json()["code"] == "PAY_001"
    service.fake.reject_next("charge", "Merchant is not active")
    rejected = service.checkout(customer)
    assert rejected.status_code == 502 and rejected.json()["code"] == "PAY_001"
    service.fake.html_next("charge")
    assert service.checkout(customer).json()["code"] == "PAY_001"
    statuses = service.db.sql("select status from public.payments where user_id = %s", (customer.user_id,))
    assert statuses == [{"status": "pending"}] * 3


def test_upgrade_mid_period_through_the_service(service: Service, customer: Identity) -> None:
    first = service.checkout(customer, "basic").json()["order_id"]
    track_id = service.track_id(first)
    service.fake.set_outcome(track_id, "CAPTURED")
    assert service.deliver(service.webhook(track_id)).json()["outcome"] == "applied"
    # Half of the period has passed.
    service.db.sql(
        "update public.subscriptions set current_period_start = now() - interval '15 days', "
        "current_period_end = now() + interval '15 days' where user_id = %s",
        (customer.user_id,),
    )
    service.db.sql(
        "update public.users set plan_period_start = now() - interval '15 days', "
        "plan_period_end = now() + interval '15 days' where id = %s",
        (customer.user_id,),
    )
    upgrade = service.checkout(customer, "premium", "cc")
    assert upgrade.status_code == 201, upgrade.text
    body = upgrade.json()
    assert body["kind"] == "upgrade" and body["proration"]["from_plan"] == "basic"
    fraction = Decimal(body["proration"]["fraction"])
    assert Decimal("0.45") < fraction < Decimal("0.55")
    assert Decimal(body["amount_kwd"]) == ((Decimal("59.000") - Decimal("23.000")) * fraction).quantize(
        Decimal("0.001")
    )
    track_id = service.track_id(body["order_id"])
    service.fake.set_outcome(track_id, "CAPTURED")
    assert service.deliver(service.webhook(track_id)).json()["outcome"] == "applied"
    plan = service.db.scalar("select plan from public.users where id = %s", (customer.user_id,))
    assert plan == "premium"
    assert service.payment(body["order_id"])["credits_granted"] == Decimal(body["proration"]["credits"])
    # A downgrade waits for the period end.
    assert service.checkout(customer, "pro").json()["code"] == "PAY_004"


def test_cancel_at_period_end(service: Service, customer: Identity) -> None:
    url = service.origin + "/billing/subscription/cancel"
    none = service.http.post(url, json={"cancel": True}, headers=service.auth(customer))
    assert (none.status_code, none.json()["code"]) == (404, "SUB_001")
    order_id = service.checkout(customer).json()["order_id"]
    track_id = service.track_id(order_id)
    service.fake.set_outcome(track_id, "CAPTURED")
    service.deliver(service.webhook(track_id))
    empty = service.http.post(url, json={}, headers=service.auth(customer))
    assert (empty.status_code, empty.json()["code"]) == (400, "VAL_001")  # an empty body means nothing
    done = service.http.post(url, json={"cancel": True}, headers=service.auth(customer))
    assert done.status_code == 200 and done.json()["cancel_at_period_end"] is True
    assert API_SECRET not in done.text


def test_credit_pack_checkout_goes_through_the_same_charge_and_webhook(service: Service, customer: Identity) -> None:
    response = service.http.post(
        f"{service.origin}/billing/checkout",
        json={"credit_pack": "pack_50", "payment_method": "knet"},
        headers={**service.auth(customer), "Idempotency-Key": "pack-click-1"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["credit_pack"], body["plan"], body["amount_kwd"]) == (
        "credit_pack",
        "pack_50",
        None,
        "5.000",
    )
    assert service.fake.charges[-1].json()["order"]["description"] == "KWq8 credit pack pack_50"
    track_id = service.track_id(body["order_id"])
    service.fake.set_outcome(track_id, "CAPTURED")
    assert service.deliver(service.webhook(track_id)).json()["outcome"] == "applied"
    assert service.grants(body["order_id"]) == 1
    both = service.http.post(
        f"{service.origin}/billing/checkout",
        json={"plan": "basic", "credit_pack": "pack_50"},
        headers=service.auth(customer),
    )
    assert both.status_code == 400 and both.json()["code"] == "VAL_001"


def test_upgrade_preview_and_downgrade_schedule_routes(service: Service, customer: Identity) -> None:
    url = f"{service.origin}/billing/checkout/preview"
    fresh = service.http.get(url, params={"plan": "pro"}, headers=service.auth(customer))
    assert fresh.status_code == 200, fresh.text
    assert fresh.json() == {"plan": "pro", "kind": "new", "amount_kwd": "38.000", "currency": "KWD"}
    assert len(service.fake.charges) == 0  # a preview charges nothing
    assert service.http.get(url, params={"plan": "x"}, headers=service.auth(customer)).json()["code"] == "VAL_001"
    none = service.http.post(
        f"{service.origin}/billing/subscription/change", json={"plan": "basic"}, headers=service.auth(customer)
    )
    assert none.status_code == 404 and none.json()["code"] == "SUB_001"


def test_double_click_without_an_idempotency_key_makes_one_payment(service: Service, customer: Identity) -> None:
    first = service.checkout(customer, "basic", "knet", key="")
    second = service.checkout(customer, "basic", "knet", key="")
    assert first.status_code == 201 and second.status_code == 200, second.text
    assert first.json()["order_id"] == second.json()["order_id"]
    assert len(service.fake.charges) == 1  # one charge at UPayments
    other = service.checkout(customer, "pro", "knet", key="")
    assert other.status_code == 201 and other.json()["order_id"] != first.json()["order_id"]
    # After the window a new checkout is a new payment.
    service.db.sql("update payments.settings set checkout_dedup_window = interval '0'")
    try:
        later = service.checkout(customer, "basic", "knet", key="")
    finally:
        service.db.sql("update payments.settings set checkout_dedup_window = interval '2 minutes'")
    assert later.status_code == 201 and later.json()["order_id"] != first.json()["order_id"]


def test_return_page_records_declines_and_cancellations_without_waiting_for_a_webhook(
    service: Service, customer: Identity
) -> None:
    url = f"{service.origin}/billing/payments/"
    for result, status, reason in (("NOT CAPTURED", "failed", "not_captured"), ("CANCELED", "cancelled", "canceled")):
        order_id = service.checkout(customer, "basic", "knet", key=f"return-{status}").json()["order_id"]
        service.fake.set_outcome(service.track_id(order_id), result)
        seen = service.http.get(url + order_id, headers=service.auth(customer)).json()
        assert (seen["status"], seen["failure_reason"]) == (status, reason), seen
        assert service.payment(order_id)["status"] == status
    # A capture read on the return page is fulfilled there, as before.
    order_id = service.checkout(customer, "basic", "knet", key="return-captured").json()["order_id"]
    service.fake.set_outcome(service.track_id(order_id), "CAPTURED")
    seen = service.http.get(url + order_id, headers=service.auth(customer)).json()
    assert (seen["status"], seen["failure_reason"], seen["credits_granted"]) == ("paid", None, "100.00")
