"""Supabase access-token verification: HS256 secret and ES256/RS256 via a local JWKS server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from kwq8.service.fake_jwks import FakeJwks, SigningKey, generate_key
from kwq8.service.jwt_auth import AUTH_EXPIRED, AUTH_INVALID, AuthError, JwtVerifier

# The Supabase CLI's local default JWT secret (supabase.md §7).
SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
USER_ID = "8d0fd2b3-9ca7-4a0b-b8a0-3b1c1a0d5e11"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": USER_ID,
        "aud": "authenticated",
        "role": "authenticated",
        "email": "noura@example.kw",
        "iat": now,
        "exp": now + 3600,
        "session_id": "s-1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64url(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def expect_error(verifier: JwtVerifier, token: str, code: str = AUTH_INVALID) -> AuthError:
    with pytest.raises(AuthError) as info:
        verifier.verify(token)
    assert info.value.code == code
    assert info.value.http_status == 401
    return info.value


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def es_key() -> SigningKey:
    return generate_key("ES256", kid="es-1")


@pytest.fixture(scope="module")
def rs_key() -> SigningKey:
    return generate_key("RS256", kid="rs-1")


@pytest.fixture(scope="module")
def jwks_server(es_key: SigningKey, rs_key: SigningKey) -> Iterator[FakeJwks]:
    with FakeJwks(es_key, rs_key) as server:
        yield server


@pytest.fixture
def jwks(jwks_server: FakeJwks) -> FakeJwks:
    jwks_server.reset()
    return jwks_server


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jwks_verifier(jwks: FakeJwks, clock: Clock) -> Iterator[JwtVerifier]:
    with JwtVerifier(jwks_url=jwks.url, clock=clock) as verifier:
        yield verifier


@pytest.fixture
def hs_verifier() -> Iterator[JwtVerifier]:
    with JwtVerifier(hs256_secret=SECRET) as verifier:
        yield verifier


# -- HS256 -------------------------------------------------------------------------------------


def test_valid_hs256_token(hs_verifier: JwtVerifier) -> None:
    result = hs_verifier.verify(hs256(claims()))
    assert result.sub == USER_ID
    assert result.role == "authenticated"
    assert result.email == "noura@example.kw"
    assert result.raw["session_id"] == "s-1"


def test_expired_token_is_auth_003(hs_verifier: JwtVerifier) -> None:
    now = int(time.time())
    expect_error(hs_verifier, hs256(claims(iat=now - 7200, exp=now - 120)), AUTH_EXPIRED)
    # Inside the 30 s leeway it is still accepted (clock skew between servers).
    assert hs_verifier.verify(hs256(claims(iat=now - 7200, exp=now - 10))).sub == USER_ID


def test_expired_token_with_a_bad_signature_is_not_called_expired(hs_verifier: JwtVerifier) -> None:
    now = int(time.time())
    token = hs256(claims(exp=now - 120), secret="x" * 40)
    expect_error(hs_verifier, token, AUTH_INVALID)


def test_wrong_secret_is_rejected(hs_verifier: JwtVerifier) -> None:
    error = expect_error(hs_verifier, hs256(claims(), secret="another-secret-that-is-32-chars-long!!"))
    assert error.reason == "InvalidSignatureError"


def test_alg_none_is_rejected(hs_verifier: JwtVerifier) -> None:
    for alg in ("none", "None", "NONE"):
        token = f"{b64url({'alg': alg, 'typ': 'JWT'})}.{b64url(claims())}."
        expect_error(hs_verifier, token)


@pytest.mark.parametrize(
    ("payload", "reason_part"),
    [
        (claims(sub=None), "MissingRequiredClaim"),
        (claims(exp=None), "MissingRequiredClaim"),
        (claims(aud=None), "MissingRequiredClaim"),
        (claims(aud="anon"), "InvalidAudience"),
        (claims(sub=""), "sub must be"),
        (claims(sub=12345), "InvalidSubject"),
    ],
    ids=["no-sub", "no-exp", "no-aud", "wrong-aud", "empty-sub", "numeric-sub"],
)
def test_required_claims(hs_verifier: JwtVerifier, payload: dict[str, Any], reason_part: str) -> None:
    error = expect_error(hs_verifier, hs256(payload))
    assert reason_part in error.reason


def test_issuer_is_checked_when_configured() -> None:
    issuer = "http://127.0.0.1:54321/auth/v1"
    with JwtVerifier(hs256_secret=SECRET, issuer=issuer) as verifier:
        assert verifier.verify(hs256(claims(iss=issuer))).sub == USER_ID
        expect_error(verifier, hs256(claims(iss="supabase-demo")))
        expect_error(verifier, hs256(claims()))


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "eyJ.eyJ.x", "x" * 9000])
def test_garbage_tokens_are_rejected(hs_verifier: JwtVerifier, token: str) -> None:
    expect_error(hs_verifier, token)


def test_constructor_refuses_unsafe_configuration() -> None:
    with pytest.raises(ValueError):
        JwtVerifier()
    with pytest.raises(ValueError):
        JwtVerifier(hs256_secret="short-secret")
    with pytest.raises(ValueError):
        JwtVerifier(jwks_url="http://auth.example.com/auth/v1/.well-known/jwks.json")


# -- JWKS (ES256 / RS256) ----------------------------------------------------------------------


def test_es256_and_rs256_via_jwks(
    jwks_verifier: JwtVerifier, jwks: FakeJwks, es_key: SigningKey, rs_key: SigningKey
) -> None:
    assert jwks_verifier.verify(es_key.mint(claims())).sub == USER_ID
    assert jwks_verifier.verify(rs_key.mint(claims(role="service_role"))).role == "service_role"
    assert jwks.request_count == 1


def test_jwks_is_fetched_once_for_many_verifications(
    jwks_verifier: JwtVerifier, jwks: FakeJwks, es_key: SigningKey, clock: Clock
) -> None:
    for i in range(25):
        clock.now += 10  # 250 s in total: inside the 10-minute cache
        assert jwks_verifier.verify(es_key.mint(claims(session_id=f"s-{i}"))).sub == USER_ID
    assert jwks.request_count == 1
    clock.now += 600
    jwks_verifier.verify(es_key.mint(claims()))
    assert jwks.request_count == 2  # the cache expired after 10 minutes


def test_unknown_kid_triggers_one_refetch(
    jwks_verifier: JwtVerifier, jwks: FakeJwks, es_key: SigningKey, clock: Clock
) -> None:
    jwks_verifier.verify(es_key.mint(claims()))
    assert jwks.request_count == 1

    rotated = jwks.add_key("ES256", kid="es-2")  # key rotation on the auth server
    assert jwks_verifier.verify(rotated.mint(claims())).sub == USER_ID
    assert jwks.request_count == 2

    # A made-up kid right after: rejected without another fetch (refetch cooldown).
    error = expect_error(jwks_verifier, es_key.mint(claims(), kid="made-up"))
    assert error.reason == "unknown signing key id"
    assert jwks.request_count == 2

    clock.now += 31
    expect_error(jwks_verifier, es_key.mint(claims(), kid="made-up-2"))
    assert jwks.request_count == 3  # exactly one refetch for it, then rejected


def test_hs256_token_is_rejected_by_a_jwks_only_verifier(jwks_verifier: JwtVerifier, es_key: SigningKey) -> None:
    # Algorithm confusion: HMAC-signed with the public key's PEM as the "secret". PyJWT refuses
    # to produce such a token, so it is assembled by hand.
    public_pem = es_key.private_key.public_key().public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    signing_input = f"{b64url({'alg': 'HS256', 'typ': 'JWT', 'kid': 'es-1'})}.{b64url(claims())}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    error = expect_error(jwks_verifier, forged)
    assert "HS256" in error.reason


def test_token_algorithm_must_match_its_key(jwks_verifier: JwtVerifier, rs_key: SigningKey) -> None:
    # RS256 header naming the EC key's kid.
    error = expect_error(jwks_verifier, rs_key.mint(claims(), kid="es-1"))
    assert error.reason == "token algorithm does not match its key"


def test_tampered_es256_payload_is_rejected(jwks_verifier: JwtVerifier, es_key: SigningKey) -> None:
    header, _, signature = es_key.mint(claims()).split(".")
    expect_error(jwks_verifier, f"{header}.{b64url(claims(role='service_role'))}.{signature}")


def test_expired_es256_token_is_auth_003(jwks_verifier: JwtVerifier, es_key: SigningKey) -> None:
    now = int(time.time())
    expect_error(jwks_verifier, es_key.mint(claims(exp=now - 300)), AUTH_EXPIRED)


def test_jwks_outage_without_cached_keys_is_503(jwks: FakeJwks, es_key: SigningKey) -> None:
    jwks.fail_next(1)
    with JwtVerifier(jwks_url=jwks.url) as verifier:
        with pytest.raises(AuthError) as info:
            verifier.verify(es_key.mint(claims()))
        assert (info.value.code, info.value.http_status) == ("AUTH_503", 503)
        # The next call fetches again and succeeds.
        assert verifier.verify(es_key.mint(claims())).sub == USER_ID
    assert jwks.request_count == 2


def test_jwks_outage_keeps_serving_cached_keys(
    jwks_verifier: JwtVerifier, jwks: FakeJwks, es_key: SigningKey, clock: Clock
) -> None:
    jwks_verifier.verify(es_key.mint(claims()))
    clock.now += 601
    jwks.fail_next(1)
    assert jwks_verifier.verify(es_key.mint(claims())).sub == USER_ID
    assert jwks.request_count == 2
    clock.now += 5  # failed refresh is retried later, not on every request
    jwks_verifier.verify(es_key.mint(claims()))
    assert jwks.request_count == 2


def test_removed_key_stops_verifying_after_the_cache_expires(
    jwks_verifier: JwtVerifier, jwks: FakeJwks, clock: Clock
) -> None:
    revoked = jwks.add_key("ES256", kid="es-revoked")
    token = revoked.mint(claims())
    assert jwks_verifier.verify(token).sub == USER_ID
    jwks.remove_key("es-revoked")
    clock.now += 601
    expect_error(jwks_verifier, token)
