"""Access tokens: Supabase JWTs signed with the project's HS256 secret or ES256 keys from a JWKS."""

from __future__ import annotations

import time
import uuid

import jwt

from kwq8.postgrest import Identity
from kwq8.service.fake_jwks import FakeJwks, generate_key

from ..service_helpers import Service, start_service, stop_service, token

pytest_plugins = ("tests.service_fixtures",)


def checkout_with(service: Service, authorization: str | None) -> tuple[int, dict[str, str]]:
    # Each call its own checkout (its own Idempotency-Key), so every accepted one answers 201.
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = service.http.post(service.origin + "/billing/checkout", json={"plan": "basic"}, headers=headers)
    return response.status_code, response.json()


def test_requests_without_a_valid_token_are_refused_with_catalogued_errors(
    service: Service, customer: Identity
) -> None:
    assert checkout_with(service, None) == (
        401,
        {
            "code": "AUTH_004",
            "message": "يجب تسجيل الدخول أولاً",
            "details": "Sign-in required: no Authorization header",
            "hint": None,
        },
    )
    unsigned = jwt.encode({"sub": customer.user_id, "exp": int(time.time()) + 60}, key="", algorithm="none")
    cases = {
        "Basic dXNlcjpwYXNz": "AUTH_005",
        "Bearer not-a-jwt": "AUTH_005",
        f"Bearer {token(customer, secret='another-secret-of-at-least-thirty-two-chars')}": "AUTH_005",
        f"Bearer {token(customer, aud='somebody-else')}": "AUTH_005",
        f"Bearer {token(customer, role='service_role')}": "AUTH_005",
        f"Bearer {unsigned}": "AUTH_005",
        f"Bearer {token(customer, expires_in=-3600)}": "AUTH_003",
        f"Bearer {token(customer, is_anonymous=True)}": "AUTH_004",
    }
    for authorization, code in cases.items():
        status, body = checkout_with(service, authorization)
        assert (status, body["code"]) == (401, code), authorization
    status, body = checkout_with(service, f"Bearer {token(customer, expires_in=-3600)}")
    assert body["message"] == "انتهت صلاحية الجلسة"
    assert service.db.scalar("select count(*) from public.payments where user_id = %s", (customer.user_id,)) == 0


def test_es256_tokens_are_verified_through_the_jwks(service: Service, customer: Identity) -> None:
    key = generate_key("ES256")
    with FakeJwks(key) as jwks:
        both = start_service(service.db, service.fake, jwks_url=jwks.url)
        try:
            claims = {
                "sub": customer.user_id,
                "role": "authenticated",
                "aud": "authenticated",
                "exp": int(time.time()) + 600,
            }
            status, body = checkout_with(both, f"Bearer {key.mint(claims)}")
            assert status == 201, body
            # The HS256 secret still works next to it; an unknown key id does not.
            assert checkout_with(both, f"Bearer {token(customer)}")[0] == 201
            assert checkout_with(both, f"Bearer {key.mint(claims, kid='unknown')}")[1]["code"] == "AUTH_005"
            expired = key.mint({**claims, "exp": int(time.time()) - 600})
            assert checkout_with(both, f"Bearer {expired}")[1]["code"] == "AUTH_003"
        finally:
            stop_service(both)
        jwks_only = start_service(service.db, service.fake, jwks_url=jwks.url, jwt_secret=None)
        try:
            assert checkout_with(jwks_only, f"Bearer {token(customer)}")[1]["code"] == "AUTH_005"
            assert checkout_with(jwks_only, f"Bearer {key.mint(claims)}")[0] == 201
        finally:
            stop_service(jwks_only)
