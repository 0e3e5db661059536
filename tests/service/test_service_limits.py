"""Rate limits kept in Postgres (shared by every instance), request size limits, input validation."""

from __future__ import annotations

import secrets

import httpx

from kwq8.postgrest import Identity

from ..service_helpers import Service, start_service, stop_service, token

pytest_plugins = ("tests.service_fixtures",)


def test_checkouts_are_limited_per_user(service: Service, customer: Identity) -> None:
    limited = start_service(service.db, service.fake, rate_checkout_per_user=2)
    try:
        assert [limited.checkout(customer).status_code for _ in range(2)] == [201, 201]
        refused = limited.checkout(customer)
        assert refused.status_code == 429
        assert refused.json()["code"] == "RATE_001" and refused.json()["message"] == "طلبات كثيرة، حاول بعد قليل"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert limited.checkout(service.db.create_user()).status_code == 201
        assert len(service.fake.charges) == 3
    finally:
        stop_service(limited)


def test_ip_limits_are_shared_by_every_instance(service: Service) -> None:
    one = start_service(service.db, service.fake, rate_ip_per_window=3, trusted_proxy_hops=1)
    two = start_service(service.db, service.fake, rate_ip_per_window=3, trusted_proxy_hops=1)
    ip = f"198.51.100.{secrets.randbelow(250) + 1}"
    try:
        codes = []
        for instance in (one, two, one, two):
            # The proxy appended the real address last; what the client wrote before it is ignored.
            headers = {"X-Forwarded-For": f"10.9.8.{secrets.randbelow(250)}, {ip}"}
            response = instance.http.post(instance.origin + "/billing/checkout", json={}, headers=headers)
            codes.append((response.status_code, response.json()["code"]))
        assert codes == [(401, "AUTH_004")] * 3 + [(429, "RATE_001")]
        assert service.db.scalar("select sum(hits) from ratelimit.rate_limits where bucket = %s", (f"ip:{ip}",)) == 4
    finally:
        stop_service(one)
        stop_service(two)


def test_request_size_is_limited(service: Service, customer: Identity) -> None:
    url = service.origin + "/billing/checkout"
    headers = {**service.auth(customer), "Content-Type": "application/json"}
    big = b'{"plan": "basic", "pad": "' + b"x" * 20_000 + b'"}'
    declared = service.http.post(url, content=big, headers=headers)
    assert (declared.status_code, declared.json()["code"]) == (413, "REQ_001")
    assert declared.json()["message"] == "حجم الطلب كبير جداً"

    def chunks():  # no Content-Length: the limit applies while reading
        for _ in range(40):
            yield b"x" * 1000

    streamed = service.http.post(url, content=chunks(), headers=headers)
    assert (streamed.status_code, streamed.json()["code"]) == (413, "REQ_001")
    webhook = service.http.post(service.origin + "/billing/webhooks/upayments", content=b"{" + b" " * 70_000 + b"}")
    assert webhook.status_code == 413
    assert service.db.scalar("select count(*) from public.payments where user_id = %s", (customer.user_id,)) == 0


def test_input_is_validated(service: Service, customer: Identity) -> None:
    url = service.origin + "/billing/checkout"
    auth = service.auth(customer)
    cases = [
        ({"plan": "basic", "admin": True}, "admin"),
        ({"plan": "Basic!"}, "plan"),
        ({"plan": "basic", "payment_method": "paypal"}, "payment_method"),
        ({"plan": "basic", "language": "fr"}, "language"),
        ({}, "plan"),
    ]
    for body, field in cases:
        response = service.http.post(url, json=body, headers=auth)
        assert (response.status_code, response.json()["code"]) == (400, "VAL_001"), body
        assert field in response.json()["details"]
    unknown = service.http.post(url, json={"plan": "gold"}, headers=auth)
    assert (unknown.status_code, unknown.json()["code"]) == (400, "VAL_001")
    not_json = service.http.post(url, content=b"plan=basic", headers=auth)
    assert (not_json.status_code, not_json.json()["code"]) == (415, "REQ_011")
    bad_key = service.http.post(url, json={"plan": "basic"}, headers={**auth, "Idempotency-Key": "has space"})
    assert bad_key.json()["code"] == "VAL_001"
    assert service.db.scalar("select count(*) from public.payments where user_id = %s", (customer.user_id,)) == 0


def test_unknown_routes_and_methods(service: Service) -> None:
    missing = service.http.get(service.origin + "/nothing-here")
    assert (missing.status_code, missing.json()["code"]) == (404, "REQ_002")
    wrong = service.http.get(service.origin + "/billing/checkout")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "REQ_003")
    assert service.http.get(service.origin + "/healthz").json() == {"status": "ok"}
    order = service.http.get(
        service.origin + "/billing/payments/not-an-order",
        headers={"Authorization": f"Bearer {token(service.db.create_user())}"},
    )
    assert (order.status_code, order.json()["code"]) == (404, "PAY_002")
    assert httpx.get(service.origin + "/healthz").headers["x-request-id"]
