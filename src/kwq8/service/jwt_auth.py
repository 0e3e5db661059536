"""Verify Supabase access tokens (JWTs) for our own API endpoints.

Two kinds of signing key exist (supabase.md §7): the legacy shared JWT secret (HS256) and
asymmetric signing keys (ES256 recommended, RS256) published as a JWKS at
``<project>/auth/v1/.well-known/jwks.json``. The JWKS is cached for 10 minutes, like Supabase's
own clients, and refetched once when a token names a key id we have not seen (key rotation).

Every token must carry ``sub``, ``exp`` and (unless ``audience=None``) ``aud``. Errors are
:class:`AuthError` with a stable ``code`` for API answers: ``AUTH_003`` expired, ``AUTH_401``
anything else wrong with the token, ``AUTH_503`` when keys cannot be fetched at all (that is our
outage, not the caller's fault, so it must not look like a bad token).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

AUTH_EXPIRED = "AUTH_003"
AUTH_INVALID = "AUTH_401"
AUTH_UNAVAILABLE = "AUTH_503"

ASYMMETRIC_ALGORITHMS = frozenset({"ES256", "RS256"})
JWKS_TTL_S = 600.0
# A token with a random kid must not let anyone make us hammer the JWKS endpoint.
REFETCH_COOLDOWN_S = 30.0
# After a failed refresh, keep serving the cached keys and try again this much later.
FAILED_REFRESH_RETRY_S = 30.0
MIN_HS256_SECRET_LEN = 32  # PostgREST refuses shorter JWT secrets
MAX_TOKEN_LEN = 8192
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class AuthError(Exception):
    """The request is not authenticated. ``code`` and ``http_status`` are safe to return to the
    client; ``reason`` is for our logs only (it says why, which helps attackers too)."""

    def __init__(self, code: str, http_status: int = 401, reason: str = "") -> None:
        super().__init__(f"{code}: {reason}" if reason else code)
        self.code = code
        self.http_status = http_status
        self.reason = reason


def _invalid(reason: str) -> AuthError:
    return AuthError(AUTH_INVALID, 401, reason)


@dataclass(frozen=True)
class Claims:
    sub: str
    role: str | None
    email: str | None
    raw: dict[str, Any]


class _JwksCache:
    def __init__(
        self,
        url: str,
        http: httpx.Client,
        ttl_s: float,
        cooldown_s: float,
        clock: Callable[[], float],
        timeout_s: float,
    ) -> None:
        self._url = url
        self._http = http
        self._ttl_s = ttl_s
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._timeout_s = timeout_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._expires_at: float | None = None
        self._last_forced: float | None = None
        # One refresh at a time: concurrent requests wait for it instead of all fetching.
        self._lock = threading.Lock()

    def key(self, kid: str, alg: str) -> jwt.PyJWK:
        with self._lock:
            now = self._clock()
            refreshed = False
            if self._expires_at is None or now >= self._expires_at:
                self._refresh(now)
                refreshed = True
            found = self._keys.get(kid)
            cooled = self._last_forced is None or now - self._last_forced >= self._cooldown_s
            if found is None and not refreshed and cooled:
                self._last_forced = now
                self._refresh(now)
                found = self._keys.get(kid)
        if found is None:
            raise _invalid("unknown signing key id")
        if found.algorithm_name != alg:
            raise _invalid("token algorithm does not match its key")
        return found

    def _refresh(self, now: float) -> None:
        try:
            keys = self._fetch()
        except (httpx.HTTPError, ValueError) as exc:
            if not self._keys:
                self._expires_at = None
                raise AuthError(AUTH_UNAVAILABLE, 503, "signing keys unavailable") from exc
            log.warning("JWKS refresh failed (%s); using cached keys", type(exc).__name__)
            self._expires_at = now + FAILED_REFRESH_RETRY_S
            return
        self._keys = keys
        self._expires_at = now + self._ttl_s

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        response = self._http.get(self._url, timeout=self._timeout_s, follow_redirects=False)
        if response.status_code != 200:
            raise ValueError(f"JWKS answered HTTP {response.status_code}")
        document = response.json()
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError("JWKS has no keys list")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            kid = entry.get("kid")
            if not isinstance(kid, str) or not kid:
                continue
            try:
                parsed = jwt.PyJWK(entry)
            except (jwt.PyJWKError, jwt.InvalidKeyError, KeyError, ValueError, TypeError):
                log.warning("skipping unusable JWKS key kid=%s", kid)
                continue
            # Never let a JWKS entry (for example an "oct" key) turn into an HMAC secret.
            if parsed.algorithm_name in ASYMMETRIC_ALGORITHMS:
                keys[kid] = parsed
        return keys


class JwtVerifier:
    """Verify Supabase access tokens signed with the legacy HS256 secret and/or JWKS keys.

    Configure at least one of ``hs256_secret`` and ``jwks_url``; a token whose algorithm has no
    configured key is rejected, so an HS256 token is never accepted by a JWKS-only verifier.
    ``http`` may be injected (it is then not closed by :meth:`close`); ``clock`` drives the JWKS
    cache only, token expiry uses PyJWT's clock with ``leeway_s``.
    """

    def __init__(
        self,
        hs256_secret: str | None = None,
        jwks_url: str | None = None,
        audience: str | None = "authenticated",
        issuer: str | None = None,
        leeway_s: int = 30,
        http: httpx.Client | None = None,
        *,
        jwks_ttl_s: float = JWKS_TTL_S,
        refetch_cooldown_s: float = REFETCH_COOLDOWN_S,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        allow_insecure_http: bool = False,
    ) -> None:
        if not hs256_secret and not jwks_url:
            raise ValueError("configure hs256_secret, jwks_url or both")
        if hs256_secret is not None and len(hs256_secret) < MIN_HS256_SECRET_LEN:
            raise ValueError(f"hs256_secret must be at least {MIN_HS256_SECRET_LEN} characters")
        self._secret = hs256_secret or None
        self._audience = audience
        self._issuer = issuer
        self._leeway_s = leeway_s
        self._owns_http = http is None
        self._http = http or httpx.Client()
        self._jwks: _JwksCache | None = None
        if jwks_url:
            url = httpx.URL(jwks_url)
            insecure = url.scheme != "https" and url.host not in _LOOPBACK_HOSTS
            if url.scheme not in ("http", "https") or (insecure and not allow_insecure_http):
                raise ValueError("jwks_url must use https (http only for loopback hosts)")
            self._jwks = _JwksCache(jwks_url, self._http, jwks_ttl_s, refetch_cooldown_s, clock, timeout_s)

    def __enter__(self) -> JwtVerifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def verify(self, token: str) -> Claims:
        """Return the token's claims or raise :class:`AuthError`."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LEN:
            raise _invalid("missing or oversized token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise _invalid("malformed token") from exc
        alg = header.get("alg")
        key: Any
        if alg == "HS256":
            if self._secret is None:
                raise _invalid("HS256 tokens are not accepted")
            key = self._secret
        elif alg in ASYMMETRIC_ALGORITHMS:
            if self._jwks is None:
                raise _invalid(f"{alg} tokens are not accepted")
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise _invalid("token has no key id")
            key = self._jwks.key(kid, alg).key
        else:
            # Includes "none": a token must always be signed with a key we hold.
            raise _invalid("token algorithm is not accepted")

        required = ["exp", "sub"]
        if self._audience is not None:
            required.append("aud")
        if self._issuer is not None:
            required.append("iss")
        try:
            payload = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": required, "verify_aud": self._audience is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError(AUTH_EXPIRED, 401, "token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise _invalid(type(exc).__name__) from exc

        # PyJWT converts with int(): "1893456000" as a string or 1e308 would pass as a time.
        for name in ("exp", "iat", "nbf"):
            if name in payload and not _is_timestamp(payload[name]):
                raise _invalid(f"{name} must be a number of seconds")
        if "is_anonymous" in payload and not isinstance(payload["is_anonymous"], bool):
            raise _invalid("is_anonymous must be a boolean")
        sub = payload.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise _invalid("sub must be a non-empty string")
        role = payload.get("role")
        email = payload.get("email")
        return Claims(
            sub=sub,
            role=role if isinstance(role, str) else None,
            email=email if isinstance(email, str) and email else None,
            raw=payload,
        )


# Seconds since the epoch up to the year 3000: a token's times are numbers, never strings,
# booleans or values no clock reaches.
MAX_TIMESTAMP = 32_503_680_000


def _is_timestamp(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= MAX_TIMESTAMP
