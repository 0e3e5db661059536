"""Strict parsing in the billing service: every ambiguous or malformed request is a catalogued
4xx, answered before UPayments is asked or anything is written (oracles: the fake's record of
status calls and a digest of the tables a request could write)."""

from __future__ import annotations

import json
import socket
import uuid

import pytest

from kwq8.postgrest import Identity
from kwq8.service.config import ConfigError, ServiceSettings

from ..service_helpers import JWT_SECRET, Service, token
from .test_service_webhooks import pending_order, signed, snapshot

pytest_plugins = ("tests.service_fixtures",)

WEBHOOK = "/billing/webhooks/upayments"


def code(response: object) -> tuple[int, str]:
    return response.status_code, response.json()["code"]  # type: ignore[attr-defined]


def test_deeply_nested_json_is_refused_on_every_route(service: Service, customer: Identity) -> None:
    nested = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert len(nested) < 16_384
    before = snapshot(service)
    assert code(service.deliver(signed(nested))) == (400, "REQ_013")
    assert service.fake.status_calls == [] and snapshot(service) == before
    # Brackets inside strings are text, not nesting.
    text = json.dumps({"track_id": "nope", "note": "[" * 5000}).encode()
    assert code(service.deliver(signed(text))) == (404, "PAY_002")
    checkout = service.http.post(
        service.origin + "/billing/checkout",
        content=nested,
        headers={**service.auth(customer), "Content-Type": "application/json"},
    )
    assert code(checkout) == (400, "REQ_013")
    assert service.fake.charges == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"track_id": "T", "track_id": "U"}', "REQ_012"),
        (b'{"track_id": "T", "amount": NaN}', "REQ_015"),
        (b'{"track_id": "T", "amount": Infinity}', "REQ_015"),
        (b'{"track_id": "T", "amount": 1e999}', "REQ_015"),
        (b'{"track_id": "T", "n": ' + b"9" * 5000 + b"}", "REQ_015"),
        (b'\xef\xbb\xbf{"track_id": "T"}', "REQ_014"),
        ('{"track_id": "T"}'.encode("utf-16"), "REQ_014"),
        (b'{"track_id": "T\xff"}', "REQ_014"),
        (b'{"track_id": "T", "note": "\\ud800"}', "REQ_014"),
        (b'{"track_id": "T", "\\udfff": 1}', "REQ_014"),
        (b'{"track_id": "T", "note": "\\u0000"}', "VAL_002"),
        (b'["track_id"]', "REQ_010"),
        (b"", "REQ_010"),
    ],
)
def test_ambiguous_webhook_bodies_are_refused_before_any_status_call(
    service: Service, customer: Identity, body: bytes, expected: str
) -> None:
    _, track_id = pending_order(service, customer)
    body = body.replace(b'"T"', json.dumps(track_id).encode()).replace(b'"T\xff"', b'"' + track_id.encode() + b'\xff"')
    before = snapshot(service)
    answer = service.deliver(signed(body))
    assert answer.json()["code"] == expected, answer.text
    assert answer.status_code == 400
    assert service.fake.status_calls == [] and snapshot(service) == before


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "", "application/json; charset=utf-16", "multipart/form-data; boundary=x"],
)
def test_bodies_of_other_content_types_are_refused_with_415(
    service: Service, customer: Identity, content_type: str
) -> None:
    order_id, track_id = pending_order(service, customer)
    body = json.dumps({"track_id": track_id, "requested_order_id": order_id}).encode()
    assert code(service.deliver(signed(body, content_type=content_type))) == (415, "REQ_011")
    checkout = service.http.post(
        service.origin + "/billing/checkout",
        content=b'{"plan": "basic"}',
        headers={**service.auth(customer), "Content-Type": content_type},
    )
    assert code(checkout) == (415, "REQ_011")
    assert service.fake.status_calls == []


def test_checkout_and_cancel_fields_are_never_coerced(service: Service, customer: Identity) -> None:
    checkout = service.origin + "/billing/checkout"
    cancel = service.origin + "/billing/subscription/cancel"
    auth = service.auth(customer)
    for body in ({"plan": ["basic"]}, {"plan": " basic"}, {"plan": "basic\n"}, {"plan": "basic", "language": 1}):
        assert code(service.http.post(checkout, json=body, headers=auth)) == (400, "VAL_001"), body
    for body in ({}, {"cancel": "true"}, {"cancel": 1}, {"cancel": None}):
        assert code(service.http.post(cancel, json=body, headers=auth)) == (400, "VAL_001"), body
    assert service.fake.charges == []


def test_a_trailing_newline_passes_no_identifier_check(service: Service, customer: Identity) -> None:
    order_id, _ = pending_order(service, customer)
    refused = service.http.get(f"{service.origin}/billing/payments/{order_id}%0A", headers=service.auth(customer))
    assert code(refused) == (404, "PAY_002") and order_id not in refused.text
    newline_sub = token(customer, sub=customer.user_id + "\n")
    answer = service.http.post(
        service.origin + "/billing/checkout",
        json={"plan": "basic"},
        headers={"Authorization": f"Bearer {newline_sub}"},
    )
    assert code(answer) == (401, "AUTH_005")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": "99999999999"},
        {"exp": 1e308},
        {"iat": "0"},
        {"is_anonymous": "true"},
        {"is_anonymous": 1},
    ],
)
def test_token_claims_of_the_wrong_type_are_refused(service: Service, customer: Identity, claims: dict) -> None:
    answer = service.http.post(
        service.origin + "/billing/checkout",
        json={"plan": "basic"},
        headers={"Authorization": f"Bearer {token(customer, **claims)}"},
    )
    assert code(answer) == (401, "AUTH_005"), claims
    assert service.fake.charges == []


def test_trailing_slashes_are_not_redirected(service: Service) -> None:
    for path in ("/healthz/", "/billing/checkout/", WEBHOOK + "/"):
        answer = service.http.post(service.origin + path, headers={"Host": "evil.example"}, content=b"{}")
        assert answer.status_code in (404, 405) and "location" not in answer.headers, path
        assert answer.json()["code"] in ("REQ_002", "REQ_003")
    assert code(service.http.get(service.origin + "/healthz/")) == (404, "REQ_002")


def raw_request(service: Service, head: bytes) -> bytes:
    port = int(service.origin.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_16_kib_header_cap_is_enforced(service: Service) -> None:
    big = service.http.get(service.origin + "/healthz", headers={"X-Big": "a" * 100_000})
    assert big.status_code in (400, 431)
    many = service.http.get(service.origin + "/healthz", headers=[(f"X-H{i}", "1") for i in range(5000)])
    assert many.status_code in (400, 431)
    # Within h11's buffer, complete at once: measured by the app.
    near = service.http.get(service.origin + "/healthz", headers={"X-Big": "a" * 15_000, "X-More": "b" * 2_000})
    assert code(near) == (431, "REQ_016")
    hundred = service.http.get(service.origin + "/healthz", headers=[(f"X-H{i}", "1") for i in range(120)])
    assert code(hundred) == (431, "REQ_016")
    assert service.http.get(service.origin + "/healthz", headers={"X-Ok": "a" * 8_000}).status_code == 200
    answer = raw_request(service, b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n")
    assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 431"))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PUBLIC_BASE_URL", "https://api.kwq8.com/?next=x"),
        ("PUBLIC_BASE_URL", "https://api.kwq8.com/#frag"),
        ("PUBLIC_BASE_URL", "https://user:pw@api.kwq8.com"),
        ("BILLING_RETURN_URL", "https://evil.example/billing/return"),
        ("BILLING_CANCEL_URL", "https://kwq8.com.evil.example/cancel"),
        ("BILLING_RETURN_URL", "https://kwq8.com/return?x=1"),
        ("KWQ8_ALLOWED_ORIGINS", "https://kwq8.com/app"),
        ("KWQ8_ALLOWED_ORIGINS", "*"),
    ],
)
def test_urls_are_checked_at_start_up(name: str, value: str) -> None:
    env = {
        "KWQ8_SERVICE_DB_URL": "postgresql://postgres:pw@127.0.0.1:5432/postgres",
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "UPAYMENTS_API_KEY": "k",
        "PUBLIC_BASE_URL": "https://api.kwq8.com",
    }
    assert ServiceSettings.from_env(env).allowed_origins == ("https://kwq8.com",)
    with pytest.raises(ConfigError, match=name):
        ServiceSettings.from_env({**env, name: value})


def test_return_urls_on_a_listed_origin_are_accepted() -> None:
    env = {
        "KWQ8_SERVICE_DB_URL": "postgresql://postgres:pw@127.0.0.1:5432/postgres",
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "UPAYMENTS_API_KEY": "k",
        "PUBLIC_BASE_URL": "https://api.kwq8.com",
        "KWQ8_ALLOWED_ORIGINS": "https://kwq8.com, https://www.kwq8.com:443",
        "BILLING_RETURN_URL": "https://www.kwq8.com/billing/return",
    }
    settings = ServiceSettings.from_env(env)
    assert settings.allowed_origins == ("https://kwq8.com", "https://www.kwq8.com")
    assert settings.return_url == "https://www.kwq8.com/billing/return"


def test_cors_preflight_and_answers_follow_the_allow_list(service: Service, customer: Identity) -> None:
    url = service.origin + "/billing/checkout"
    allowed = "https://kwq8.test"
    preflight = service.http.options(
        url,
        headers={
            "Origin": allowed,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == allowed
    assert set(preflight.headers["access-control-allow-methods"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    assert "access-control-allow-credentials" not in preflight.headers
    for origin, method, asked in (
        ("https://evil.example", "POST", "authorization"),
        ("null", "POST", "authorization"),
        (allowed, "DELETE", "authorization"),
        (allowed, "POST", "x-admin"),
    ):
        refused = service.http.options(
            url,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": asked,
            },
        )
        assert code(refused) == (403, "REQ_017")
        assert "access-control-allow-origin" not in refused.headers
    # Answers, errors included, are readable by an allowed page only.
    ok = service.http.post(url, json={"plan": "basic"}, headers={**service.auth(customer), "Origin": allowed})
    assert ok.status_code == 201 and ok.headers["access-control-allow-origin"] == allowed
    assert "x-request-id" in ok.headers["access-control-expose-headers"].lower()
    error = service.http.post(url, json={"plan": "basic"}, headers={"Origin": allowed})
    assert code(error) == (401, "AUTH_004") and error.headers["access-control-allow-origin"] == allowed
    other = service.http.post(url, json={"plan": "basic"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    hook = service.http.options(
        service.origin + WEBHOOK, headers={"Origin": allowed, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in hook.headers


def test_an_unknown_sub_is_still_refused(service: Service) -> None:
    stranger = Identity(role="authenticated", claims={"sub": str(uuid.uuid4())})
    answer = service.http.get(
        f"{service.origin}/billing/payments/kwq8_{'0' * 32}",
        headers={"Authorization": f"Bearer {token(stranger)}"},
    )
    assert code(answer) == (404, "PAY_002")
