"""Helpers for the credit tests: subscriptions, grants and error assertions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

SERVICE = Identity.service_role()
NOW = "2026-05-10T09:00:00+00:00"  # 12:00 in Kuwait
FUTURE = "2026-06-10T00:00:00+00:00"


def key() -> str:
    return str(uuid.uuid4())


def subscribe(db: TestDatabase, user: Identity, plan: str, start: str, end: str) -> None:
    """Put the user on a plan for a period (what the payments code does on activation)."""
    db.sql(
        "update public.users set plan = %s, plan_period_start = %s, plan_period_end = %s where id = %s",
        (plan, start, end, user.user_id),
    )


def grant(
    db: TestDatabase,
    user: Identity,
    amount: Any,
    source: str = "promo",
    expires_at: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = db.rpc(
        "grant_credits",
        {
            "user_id": user.user_id,
            "amount": str(amount),
            "source": source,
            "expires_at": expires_at,
            "idempotency_key": idempotency_key or key(),
        },
        as_=SERVICE,
    )
    return result


def balance(db: TestDatabase, user: Identity) -> Decimal:
    return Decimal(db.scalar("select credits_balance from public.users where id = %s", (user.user_id,)))


def ledger_count(db: TestDatabase, user: Identity) -> int:
    return int(db.scalar("select count(*) from public.credit_transactions where user_id = %s", (user.user_id,)))


def expect_error(call: Callable[[], Any], code: str, status: int | None = None) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.code == code, info.value
    if status is not None:
        assert info.value.status == status, info.value
    return info.value


def audit_clean(db: TestDatabase) -> None:
    rows = db.sql("select * from billing.audit_ledger()")
    assert rows == [], rows
