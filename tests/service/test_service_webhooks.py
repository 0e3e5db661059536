"""UPayments webhooks: signatures, re-confirmation with get-payment-status, exactly-once effects."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from kwq8.payments.fake_upayments import WebhookDelivery
from kwq8.payments.signature import sign
from kwq8.postgrest import Identity

from ..service_helpers import API_SECRET, NOTIFICATION_URL, Service, start_service, stop_service

pytest_plugins = ("tests.service_fixtures",)


def pending_order(service: Service, user: Identity, plan: str = "basic") -> tuple[str, str]:
    response = service.checkout(user, plan)
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    return order_id, service.track_id(order_id)


def snapshot(service: Service) -> dict[str, Any]:
    """Everything a webhook could write."""
    return {
        table: service.db.scalar(f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {table} t")
        for table in (
            "public.payments",
            "public.subscriptions",
            "payments.provider_events",
            "ratelimit.rate_limits",
            "public.credit_transactions",
            "public.users",
        )
    }


def signed(
    body: bytes, *, secret: str = API_SECRET, timestamp: int | None = None, content_type: str = "application/json"
) -> WebhookDelivery:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": content_type,
        "X-Timestamp": ts,
        "X-Signature": sign(secret, ts, "POST", NOTIFICATION_URL, body),
    }
    return WebhookDelivery(url=NOTIFICATION_URL, headers=headers, body=body)


def test_the_same_webhook_100_times_in_parallel_grants_once(service: Service, customer: Identity) -> None:
    order_id, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED")
    # A slow status answer (0.3 s) lets the first wave of deliveries all reach the database
    # before any of them commits, so they race in record_payment_event for real.
    service.fake.timeout_next("status", delay_s=0.3, count=100)
    delivery = service.webhook(track_id)
    # Two instances of the service on the same database, as in production behind a balancer.
    second = start_service(service.db, service.fake, rate_webhook_per_ip=100_000)
    try:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        with httpx.Client(limits=limits, timeout=30.0) as client, ThreadPoolExecutor(max_workers=50) as pool:
            targets = [service if i % 2 else second for i in range(100)]
            responses = list(pool.map(lambda target: target.deliver(delivery, client=client), targets))
    finally:
        stop_service(second)
    assert [r.status_code for r in responses] == [200] * 100, {r.text for r in responses}
    answers = [r.json() for r in responses]
    assert sum(not a["duplicate"] for a in answers) == 1
    assert {a["outcome"] for a in answers} == {"applied"}
    assert len(service.fake.status_calls) >= 10  # that many were in flight at once
    assert service.grants(order_id) == 1
    assert service.db.scalar("select count(*) from payments.provider_events where track_id = %s", (track_id,)) == 1
    assert service.payment(order_id)["status"] == "paid"
    assert service.db.scalar("select count(*) from public.subscriptions where user_id = %s", (customer.user_id,)) == 1
    assert service.db.sql("select * from billing.audit_ledger()") == []


@pytest.mark.parametrize("forgery", ["wrong_secret", "tampered_body", "no_signature", "stale", "future"])
def test_forged_or_stale_webhooks_are_refused_and_write_nothing(
    service: Service, customer: Identity, forgery: str
) -> None:
    order_id, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED")
    genuine = service.webhook(track_id)
    body = genuine.body
    if forgery == "wrong_secret":
        delivery = signed(body, secret="not-the-secret")
    elif forgery == "tampered_body":
        delivery = WebhookDelivery(genuine.url, genuine.headers, body.replace(b'"CAPTURED"', b'"CAPTURED" '))
    elif forgery == "no_signature":
        delivery = WebhookDelivery(genuine.url, {"Content-Type": "application/json"}, body)
    elif forgery == "stale":
        delivery = service.webhook(track_id, timestamp=int(time.time()) - 3600)
    else:
        delivery = service.webhook(track_id, timestamp=int(time.time()) + 3600)
    before = snapshot(service)
    response = service.deliver(delivery)
    assert response.status_code == 401
    assert response.json()["code"] == "PAY_006" and response.json()["message"] == "توقيع إشعار الدفع غير صالح"
    assert snapshot(service) == before
    assert service.fake.status_calls == []
    assert service.payment(order_id)["status"] == "pending" and service.grants(order_id) == 0


def test_status_check_disagreeing_with_the_webhook_grants_nothing(service: Service, customer: Identity) -> None:
    order_id, track_id = pending_order(service, customer)
    # The webhook says CAPTURED; UPayments says the payment was declined.
    service.fake.set_outcome(track_id, "NOT CAPTURED")
    response = service.deliver(service.webhook(track_id, result="CAPTURED"))
    # Not final and nothing closed: UPayments is asked to deliver again.
    assert response.status_code == 503 and response.json()["outcome"] == "pending"
    assert service.payment(order_id)["status"] == "pending" and service.grants(order_id) == 0
    event = service.db.sql(
        "select notified_result, verified_result, status_disagrees from payments.provider_events where track_id = %s",
        (track_id,),
    )
    assert event == [{"notified_result": "CAPTURED", "verified_result": "NOT CAPTURED", "status_disagrees": True}]

    # The webhook says CAPTURED; UPayments still says PENDING: no grant, and a retry is asked for.
    order_id, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "PENDING")
    delivery = service.webhook(track_id, result="CAPTURED")
    response = service.deliver(delivery)
    assert response.status_code == 503 and response.json()["outcome"] == "pending"
    assert service.grants(order_id) == 0 and service.payment(order_id)["status"] == "pending"
    service.fake.set_outcome(track_id, "CAPTURED")
    retried = service.deliver(delivery)
    assert retried.status_code == 200 and retried.json()["outcome"] == "applied"
    assert service.grants(order_id) == 1


def test_status_amount_must_match_the_order(service: Service, customer: Identity) -> None:
    order_id, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED", total_price="2.300")
    response = service.deliver(service.webhook(track_id))
    # Money was captured, just not what the order asked: kept for an operator, never closed.
    assert response.status_code == 200 and response.json()["outcome"] == "needs_review"
    assert service.payment(order_id)["status"] == "needs_review" and service.grants(order_id) == 0


def test_status_endpoint_failure_answers_503_and_a_redelivery_succeeds(service: Service, customer: Identity) -> None:
    order_id, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED")
    service.fake.fail_next("status", 500, count=2)  # the client tries twice
    delivery = service.webhook(track_id)
    failed = service.deliver(delivery)
    assert failed.status_code == 503 and failed.json()["code"] == "PAY_005"
    assert service.grants(order_id) == 0
    assert service.deliver(delivery).json()["outcome"] == "applied"
    assert service.grants(order_id) == 1


def test_form_encoded_webhooks_are_accepted(service: Service, customer: Identity) -> None:
    order_id, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED")
    body = f"result=CAPTURED&track_id={track_id}&payment_id=100200300&requested_order_id={order_id}".encode()
    response = service.deliver(signed(body, content_type="application/x-www-form-urlencoded"))
    assert response.status_code == 200 and response.json()["outcome"] == "applied"


def test_unusable_or_unknown_notifications(service: Service) -> None:
    missing = service.deliver(signed(json.dumps({"result": "CAPTURED"}).encode()))
    assert (missing.status_code, missing.json()["code"]) == (400, "VAL_001")
    assert "track_id" in missing.json()["details"]
    unknown = service.deliver(signed(json.dumps({"track_id": "nope", "result": "CAPTURED"}).encode()))
    assert (unknown.status_code, unknown.json()["code"]) == (404, "PAY_002")
    garbage = service.deliver(signed(b"{not json"))
    assert (garbage.status_code, garbage.json()["code"]) == (400, "REQ_010")
    assert service.fake.status_calls == []


def test_without_a_secret_unsigned_webhooks_are_refused(service: Service, customer: Identity) -> None:
    unsigned = start_service(service.db, service.fake, webhook_secret=None)
    try:
        order_id, track_id = pending_order(unsigned, customer)
        service.fake.set_outcome(track_id, "CAPTURED")
        body = json.dumps({"track_id": track_id, "result": "CAPTURED", "requested_order_id": order_id}).encode()
        response = unsigned.deliver(WebhookDelivery(NOTIFICATION_URL, {"Content-Type": "application/json"}, body))
        assert (response.status_code, response.json()["code"]) == (401, "PAY_006")
        assert service.fake.status_calls == [] and service.grants(order_id) == 0
    finally:
        stop_service(unsigned)


def test_query_parameters_never_join_the_signed_payload(service: Service, customer: Identity) -> None:
    order_id, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED")
    genuine = service.webhook(track_id)
    # A genuine, signed notification, with fields an intermediary appended to the URL.
    response = service.http.post(
        service.origin + "/billing/webhooks/upayments?injected=1&requested_order_id=kwq8_" + "0" * 32,
        content=genuine.body,
        headers=genuine.headers,
    )
    assert response.status_code == 200 and response.json()["outcome"] == "applied"
    payloads = service.db.sql("select payload from payments.provider_events where track_id = %s", (track_id,))
    assert len(payloads) == 1 and "injected" not in payloads[0]["payload"]
    assert payloads[0]["payload"].get("requested_order_id") in (None, order_id)
    assert service.grants(order_id) == 1


def test_sandbox_may_explicitly_accept_unsigned_webhooks(service: Service, customer: Identity) -> None:
    unsigned = start_service(service.db, service.fake, webhook_secret=None, allow_unsigned_webhooks=True)
    try:
        order_id, track_id = pending_order(unsigned, customer)
        body = json.dumps({"track_id": track_id, "result": "CAPTURED", "requested_order_id": order_id}).encode()
        forged = WebhookDelivery(NOTIFICATION_URL, {"Content-Type": "application/json"}, body)
        response = unsigned.deliver(forged)  # an attacker's claim: UPayments says PENDING
        assert response.status_code == 503 and service.grants(order_id) == 0
        service.fake.set_outcome(track_id, "CAPTURED")
        assert unsigned.deliver(forged).json()["outcome"] == "applied"
    finally:
        stop_service(unsigned)


def test_spent_status_budget_asks_upayments_to_deliver_again(service: Service, customer: Identity) -> None:
    order_id, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED")
    bucket = "upayments:get-payment-status"
    service.db.sql("update payments.settings set status_calls_per_minute = 1, status_calls_reserved = 0")
    try:
        # This minute's call and the next minute's are taken (the test may cross a minute).
        service.db.sql(
            "insert into ratelimit.rate_limits (bucket, window_start, hits)"
            " select %s, date_trunc('minute', now()) + m * interval '1 minute', 1 from generate_series(0, 1) as m"
            " on conflict (bucket, window_start) do update set hits = 1",
            (bucket,),
        )
        response = service.deliver(service.webhook(track_id))
        assert (response.status_code, response.json()["code"]) == (503, "PAY_007")
        assert 1 <= int(response.headers["retry-after"]) <= 60
        assert service.fake.status_calls == [] and service.grants(order_id) == 0
    finally:
        service.db.sql("update payments.settings set status_calls_per_minute = 1000, status_calls_reserved = 10")
        service.db.sql("delete from ratelimit.rate_limits where bucket = %s", (bucket,))
    assert service.deliver(service.webhook(track_id)).json()["outcome"] == "applied"
