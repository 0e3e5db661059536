"""A local JWKS endpoint with throwaway signing keys, for testing token verification.

Serves the public keys at ``/auth/v1/.well-known/jwks.json`` (Supabase's path) and
``/.well-known/jwks.json`` on a real loopback socket, counts requests, and can fail on demand.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kwq8.payments.fake_upayments import LocalServer

SigningAlg = Literal["ES256", "RS256"]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: SigningAlg
    private_key: Any
    public_jwk: dict[str, Any]

    def mint(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        """Sign ``claims``; ``kid`` overrides the header's key id (to test unknown kids)."""
        return jwt.encode(claims, self.private_key, algorithm=self.alg, headers={"kid": kid or self.kid})


def generate_key(alg: SigningAlg = "ES256", kid: str | None = None) -> SigningKey:
    kid = kid or secrets.token_hex(8)
    if alg == "ES256":
        private_key: Any = ec.generate_private_key(ec.SECP256R1())
        public = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    elif alg == "RS256":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = RSAAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    else:
        raise ValueError(f"unsupported algorithm {alg!r}")
    public_jwk = {**public, "kid": kid, "alg": alg, "use": "sig"}
    return SigningKey(kid=kid, alg=alg, private_key=private_key, public_jwk=public_jwk)


class FakeJwks:
    """Use as a context manager; ``url`` is the JWKS URL to give :class:`JwtVerifier`."""

    def __init__(self, *keys: SigningKey) -> None:
        self._initial_keys = list(keys)
        self._keys: list[SigningKey] = list(keys)
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self.request_count = 0
        app = Starlette(
            routes=[
                Route("/auth/v1/.well-known/jwks.json", self._serve, methods=["GET"]),
                Route("/.well-known/jwks.json", self._serve, methods=["GET"]),
            ]
        )
        self._server = LocalServer(app)

    def __enter__(self) -> FakeJwks:
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        return self._server.origin + "/auth/v1/.well-known/jwks.json"

    def reset(self) -> None:
        """Restore the constructor's keys and clear counters and pending failures, so one
        running server can serve many tests."""
        with self._lock:
            self._keys = list(self._initial_keys)
            self._failures.clear()
            self.request_count = 0

    def add_key(self, alg: SigningAlg = "ES256", kid: str | None = None) -> SigningKey:
        key = generate_key(alg, kid)
        with self._lock:
            self._keys.append(key)
        return key

    def remove_key(self, kid: str) -> None:
        with self._lock:
            self._keys = [k for k in self._keys if k.kid != kid]

    def fail_next(self, count: int = 1, status_code: int = 503) -> None:
        with self._lock:
            self._failures.extend([status_code] * count)

    async def _serve(self, request: Request) -> Response:
        with self._lock:
            self.request_count += 1
            if self._failures:
                return Response("unavailable", status_code=self._failures.pop(0))
            document = {"keys": [k.public_jwk for k in self._keys]}
        return Response(json.dumps(document), media_type="application/json")
