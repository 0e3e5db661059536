"""Local API keys: HS256 JWTs with the claims the Supabase CLI puts in its local keys."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

# The Supabase CLI's local keys never expire in practice; same issuer and expiry here.
LOCAL_ISSUER = "supabase-demo"
LOCAL_EXPIRY = 1983812996


def api_key(secret: str, role: str) -> str:
    return jwt.encode({"iss": LOCAL_ISSUER, "role": role, "exp": LOCAL_EXPIRY}, secret, algorithm="HS256")


def local_api_keys(secret: str) -> dict[str, str]:
    return {"anon": api_key(secret, "anon"), "service_role": api_key(secret, "service_role")}


def user_access_token(
    secret: str,
    user_id: str,
    *,
    email: str | None = None,
    expires_in: int = 3600,
    issuer: str = "http://127.0.0.1:54321/auth/v1",
    now: int | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """An access token shaped like the ones Supabase Auth issues to a signed-in user."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": "authenticated",
        "sub": user_id,
        "role": "authenticated",
        "aal": "aal1",
        "session_id": str(uuid.uuid4()),
        "email": email or "",
        "phone": "",
        "is_anonymous": False,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "iat": issued,
        "exp": issued + expires_in,
    }
    claims.update(extra or {})
    return jwt.encode(claims, secret, algorithm="HS256")
