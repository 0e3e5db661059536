"""Local API keys: HS256 JWTs with the claims the Supabase CLI puts in its local keys."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import psycopg

# The Supabase CLI's local keys never expire in practice; same issuer and expiry here.
LOCAL_ISSUER = "supabase-demo"
LOCAL_EXPIRY = 1983812996
# What the Supabase CLI's local Auth server puts in `iss` (API port 54321).
LOCAL_AUTH_ISSUER = "http://127.0.0.1:54321/auth/v1"


def api_key(secret: str, role: str) -> str:
    return jwt.encode({"iss": LOCAL_ISSUER, "role": role, "exp": LOCAL_EXPIRY}, secret, algorithm="HS256")


def local_api_keys(secret: str) -> dict[str, str]:
    return {"anon": api_key(secret, "anon"), "service_role": api_key(secret, "service_role")}


def user_access_token(
    secret: str,
    user_id: str,
    *,
    email: str | None = None,
    app_metadata: dict[str, Any] | None = None,
    user_metadata: dict[str, Any] | None = None,
    expires_in: int = 3600,
    issuer: str = LOCAL_AUTH_ISSUER,
) -> str:
    """An access token with the claims Supabase Auth puts in one after a password sign-in."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": user_id,
        "aud": "authenticated",
        "exp": now + expires_in,
        "iat": now,
        "email": email or "",
        "phone": "",
        "app_metadata": app_metadata or {"provider": "email", "providers": ["email"]},
        "user_metadata": user_metadata or {},
        "role": "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def auth_user_token(conn: psycopg.Connection[Any], secret: str, user: str, *, expires_in: int = 3600) -> str | None:
    """An access token for the auth user with this email (any case) or id, with the user's own
    metadata in its claims; None when there is no such user."""
    row = conn.execute(
        "select id::text, email, raw_app_meta_data, raw_user_meta_data from auth.users "
        "where lower(email) = lower(%s) or id::text = %s",
        (user, user),
    ).fetchone()
    if row is None:
        return None
    return user_access_token(
        secret, row[0], email=row[1], app_metadata=row[2], user_metadata=row[3], expires_in=expires_in
    )
