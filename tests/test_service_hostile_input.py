"""Hostile input to the billing service: control characters, oversized requests, long fields.

Every refusal is a catalogued 4xx answered before UPayments is called or anything is written;
the oracles are the fake's record of calls and a digest of the tables a request could write.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from kwq8.postgrest import Identity

from .service_helpers import Service
from .test_service_webhooks import pending_order, signed, snapshot

pytest_plugins = ("tests.service_fixtures",)

WEBHOOK = "/billing/webhooks/upayments"


@pytest.mark.parametrize("bad", ["\u0000", "a\u0000b", "\u0007", "\u001b[2J", "\u007f", "\u009b"])
def test_control_characters_in_a_signed_webhook_are_refused(service: Service, customer: Identity, bad: str) -> None:
    _, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED")
    before = snapshot(service)
    calls = len(service.fake.status_calls)
    bodies = [
        json.dumps({"track_id": track_id + bad, "result": "CAPTURED"}).encode(),
        json.dumps({"track_id": track_id, "result": "CAPTURED", "note": ["x", {"deep": bad}]}).encode(),
        json.dumps({"track_id": track_id, "result": "CAPTURED", "key" + bad: "x"}).encode(),
    ]
    for body in bodies:
        response = service.deliver(signed(body))
        assert (response.status_code, response.json()["code"]) == (400, "VAL_002"), body
        assert bad not in response.text
    form = f"result=CAPTURED&track_id={track_id}{quote(bad)}".encode()
    response = service.deliver(signed(form, content_type="application/x-www-form-urlencoded"))
    assert (response.status_code, response.json()["code"]) == (400, "VAL_002")
    assert len(service.fake.status_calls) == calls
    assert snapshot(service) == before
    assert service.deliver(service.webhook(track_id, "CAPTURED")).json()["outcome"] == "applied"


def test_control_characters_in_query_strings_and_paths_are_refused(service: Service, customer: Identity) -> None:
    before = snapshot(service)
    for target in (
        WEBHOOK + "?track_id=abc%00",
        WEBHOOK + "?note=%1B%5B2J",
        "/billing/payments/kwq8_%00",
        "/healthz?x=%07",
    ):
        method = "POST" if target.startswith(WEBHOOK) else "GET"
        response = service.http.request(method, service.origin + target, headers=service.auth(customer))
        assert (response.status_code, response.json()["code"]) == (400, "VAL_002"), target
    assert snapshot(service) == before


@pytest.mark.parametrize(
    "body",
    [
        {"plan": "basic\u0000"},
        {"plan": "basic", "language": "ar\u0000"},
        {"plan": "basic", "payment_method": "knet\u0007"},
        {"plan": "basic", "\u0000": 1},
    ],
)
def test_control_characters_in_a_checkout_are_refused(service: Service, customer: Identity, body: dict) -> None:
    charges = len(service.fake.charges)
    response = service.http.post(service.origin + "/billing/checkout", json=body, headers=service.auth(customer))
    assert (response.status_code, response.json()["code"]) == (400, "VAL_002")
    assert response.json()["message"] == "البيانات المدخلة تحتوي على رموز غير مسموح بها"
    assert len(service.fake.charges) == charges
    assert service.db.scalar("select count(*) from public.payments where user_id = %s", (customer.user_id,)) == 0


def test_cancel_refuses_control_characters_in_field_names(service: Service, customer: Identity) -> None:
    response = service.http.post(
        service.origin + "/billing/subscription/cancel",
        content=b'{"cancel": true, "x\\u0000": 1}',
        headers={**service.auth(customer), "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "VAL_002")
