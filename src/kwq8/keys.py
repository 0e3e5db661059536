"""Local API keys: HS256 JWTs with the claims the Supabase CLI puts in its local keys."""

from __future__ import annotations

import jwt

# The Supabase CLI's local keys never expire in practice; same issuer and expiry here.
LOCAL_ISSUER = "supabase-demo"
LOCAL_EXPIRY = 1983812996


def api_key(secret: str, role: str) -> str:
    return jwt.encode({"iss": LOCAL_ISSUER, "role": role, "exp": LOCAL_EXPIRY}, secret, algorithm="HS256")


def local_api_keys(secret: str) -> dict[str, str]:
    return {"anon": api_key(secret, "anon"), "service_role": api_key(secret, "service_role")}
