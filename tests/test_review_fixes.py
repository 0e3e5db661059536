"""Defects a review of the holds, refunds, payments and domains SQL found, each pinned by a test
against the real database: an expired hold the sweeper has not reached yet, refunds sent once
by concurrent workers, a checkout retried after a crash, and the DOM_ codes of the domain RPCs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from .credit_helpers import SERVICE, audit_clean, grant, key

pytest_plugins = ("tests.credit_fixtures",)

# page_generation costs 3 and a hold lives hold_ttl (15 minutes) from NOW.
EXPIRES = "2026-05-10T09:15:00+00:00"
JUST_BEFORE = "2026-05-10T09:14:59+00:00"


def reserve(db: TestDatabase, user: Identity, action: str = "page_generation") -> dict[str, Any]:
    hold: dict[str, Any] = db.rpc("reserve_credits", {"action": action, "idempotency_key": key()}, as_=user)
    return hold


# --------------------------------------------------------------------------- holds past expiry


def test_get_hold_reports_a_hold_past_its_expiry_as_expired_before_the_sweeper(db: TestDatabase) -> None:
    user = db.create_user()
    grant(db, user, 20)
    hold = reserve(db, user)
    db.freeze_time(JUST_BEFORE)
    assert db.rpc("get_hold", {"hold_id": hold["hold_id"]}, as_=user)["status"] == "active"
    db.freeze_time(EXPIRES)
    # Nothing has swept it: the row still says active.
    assert db.scalar("select status from billing.holds where id = %s", (hold["hold_id"],)) == "active"
    assert db.rpc("get_hold", {"hold_id": hold["hold_id"]}, as_=user)["status"] == "expired"


def expected_usage(db: TestDatabase, user: Identity) -> dict[str, Decimal]:
    """Credits used per action, recomputed from the ledger and the holds: spends net of refunds,
    and of each hold what it keeps (captured: the captured amount; active and before its expiry:
    all of it; released, expired or past its expiry: nothing)."""
    rows = db.sql(
        "select t.action, t.transaction_type, t.credits_amount, h.status, h.amount, h.captured_amount,"
        " h.expires_at <= billing.clock() as past"
        " from public.credit_transactions t left join billing.holds h on h.id = t.hold_id"
        " where t.user_id = %s and t.action is not null",
        (user.user_id,),
    )
    used: dict[str, Decimal] = {}
    for row in rows:
        if row["transaction_type"] in ("spend", "refund"):
            amount = -Decimal(row["credits_amount"])
        elif row["transaction_type"] == "hold":
            if row["status"] == "captured":
                amount = Decimal(row["captured_amount"])
            elif row["status"] == "active" and not row["past"]:
                amount = Decimal(row["amount"])
            else:
                amount = Decimal(0)
        else:
            continue
        used[row["action"]] = used.get(row["action"], Decimal(0)) + amount
    return used


def test_get_credit_usage_counts_a_hold_past_its_expiry_as_released(db: TestDatabase) -> None:
    user = db.create_user()
    grant(db, user, 50)
    db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    reserve(db, user)
    captured = reserve(db, user, "complex_feature")
    db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": captured["hold_id"], "amount": "2"}, as_=SERVICE)
    db.freeze_time(JUST_BEFORE)
    reserve(db, user)  # expires 15 minutes after JUST_BEFORE: still active at EXPIRES
    db.freeze_time(EXPIRES)

    def usage() -> dict[str, Decimal]:
        return {r["action"]: Decimal(str(r["credits"])) for r in db.rpc("get_credit_usage", {"days": 1}, as_=user)}

    expected = expected_usage(db, user)
    assert expected == {"chat_message": Decimal(1), "page_generation": Decimal(3), "complex_feature": Decimal(2)}
    assert usage() == expected
    # The sweeper changes nothing the chart shows.
    assert db.rpc("run_credit_sweepers", {}, as_=SERVICE)["holds_released"] == 1
    assert usage() == expected_usage(db, user) == expected
    audit_clean(db)
