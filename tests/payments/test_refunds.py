"""Refunds and voids in SQL: the state machine around create-refund, credits taken back never
below what was spent (the shortfall recorded), the subscription adjusted, all idempotent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import audit_clean, balance, expect_error, key
from ..payment_helpers import (
    SERVICE,
    attach,
    checkout,
    monthly_remaining,
    notify,
    pay,
    payment,
    payments_audit_clean,
    status,
    subscription,
    user_plan,
)

pytest_plugins = ("tests.credit_fixtures",)


def request(db: TestDatabase, order_id: str, reason: str = "customer asked") -> dict[str, Any]:
    result: dict[str, Any] = db.rpc("request_refund", {"order_id": order_id, "reason": reason}, as_=SERVICE)
    return result


def submit(db: TestDatabase, refund_id: str, outcome: str = "refunded") -> dict[str, Any]:
    assert db.rpc("begin_refund", {"refund_id": refund_id, "refund_order_id": "R1"}, as_=SERVICE) is True
    result: dict[str, Any] = db.rpc(
        "finish_refund",
        {"refund_id": refund_id, "outcome": outcome, "provider": {"refund_order_id": "RF-1"}, "error": None},
        as_=SERVICE,
    )
    return result


def spend(db: TestDatabase, user: Identity, times: int) -> None:
    for _ in range(times):
        db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)


def test_a_refund_takes_back_the_period_and_what_is_left_of_the_credits(db: TestDatabase, user: Identity) -> None:
    db.sql("update public.plans set daily_bonus = 0")
    paid = pay(db, user)
    db.freeze_time("2026-05-11T09:00:00+00:00")
    spend(db, user, 3)  # 3 page generations of the 100 monthly credits
    spent = Decimal(100) - balance(db, user)
    assert spent > 0
    refund = request(db, paid["order_id"])
    assert (refund["status"], refund["amount_kwd"], refund["replay"]) == ("requested", Decimal("23.000"), False)
    assert request(db, paid["order_id"])["replay"] is True
    batch = db.rpc("refund_batch", {}, as_=SERVICE)
    assert [b["refund_id"] for b in batch] == [refund["refund_id"]]
    done = submit(db, refund["refund_id"])
    assert done["status"] == "refunded"
    assert Decimal(done["credits_clawed_back"]) == Decimal(100) - spent
    assert Decimal(done["credits_shortfall"]) == spent  # recorded, not hidden
    assert balance(db, user) == 0 and monthly_remaining(db, user) == 0
    row = payment(db, paid["order_id"])
    assert row["status"] == "refunded"
    sub = subscription(db, user)
    assert sub is not None and sub["status"] == "expired" and user_plan(db, user)["plan"] is None
    # Idempotent: finishing again, or UPayments reporting the refund later, changes nothing.
    again = db.rpc(
        "finish_refund",
        {"refund_id": refund["refund_id"], "outcome": "refunded", "provider": None, "error": None},
        as_=SERVICE,
    )
    assert again["replay"] is True
    track = row["track_id"]
    late = notify(db, track, "REFUND", status(paid["order_id"], "23.000", track, "REFUND"))
    assert late["outcome"] == "late" and balance(db, user) == 0
    assert db.scalar("select count(*) from public.credit_transactions where transaction_type = 'expire'") == 1
    assert db.rpc("refund_batch", {}, as_=SERVICE) == []
    audit_clean(db)
    payments_audit_clean(db)


def test_refunding_a_renewal_takes_back_only_its_period(db: TestDatabase, user: Identity) -> None:
    pay(db, user)
    db.freeze_time("2026-06-01T09:00:00+00:00")
    renewal = pay(db, user)
    db.freeze_time("2026-06-02T09:00:00+00:00")
    sub = subscription(db, user)
    assert sub is not None and sub["current_period_end"].isoformat() == "2026-07-10T09:00:00+00:00"
    submit(db, request(db, renewal["order_id"])["refund_id"])
    sub = subscription(db, user)
    assert sub is not None and sub["status"] == "active"
    assert sub["current_period_end"].isoformat() == "2026-06-10T09:00:00+00:00"
    assert user_plan(db, user)["plan_period_end"].isoformat() == "2026-06-10T09:00:00+00:00"
    assert monthly_remaining(db, user) == Decimal("100.00")  # the first period's credits stay
    audit_clean(db)
    payments_audit_clean(db)


def test_upayments_voiding_a_payment_claws_back(db: TestDatabase, user: Identity) -> None:
    paid = pay(db, user)
    db.freeze_time("2026-05-12T09:00:00+00:00")
    track = payment(db, paid["order_id"])["track_id"]
    event = notify(db, track, "VOIDED", status(paid["order_id"], "23.000", track, "VOIDED"))
    assert event["outcome"] == "refunded" and event["final"] is True
    assert payment(db, paid["order_id"])["status"] == "refunded"
    refund = db.sql("select origin, status, credits_clawed_back from payments.refunds")
    assert refund == [{"origin": "provider", "status": "refunded", "credits_clawed_back": Decimal("100.00")}]
    assert monthly_remaining(db, user) == 0
    audit_clean(db)
    payments_audit_clean(db)


def test_refused_and_unknown_refund_outcomes(db: TestDatabase, user: Identity) -> None:
    refused = pay(db, user)
    failed = submit(db, request(db, refused["order_id"])["refund_id"], "failed")
    assert failed["status"] == "failed" and payment(db, refused["order_id"])["status"] == "paid"
    other = db.create_user()
    unclear = pay(db, other)
    unknown = submit(db, request(db, unclear["order_id"])["refund_id"], "unknown")
    # Never retried blind: an operator checks with UPayments.
    assert unknown["status"] == "needs_review" and db.rpc("refund_batch", {}, as_=SERVICE) == []
    assert monthly_remaining(db, other) == Decimal("100.00")


def test_refund_requests_are_validated(db: TestDatabase, user: Identity) -> None:
    order = checkout(db, user)
    attach(db, order["order_id"])
    expect_error(lambda: request(db, order["order_id"]), "PAY_009", 409)
    expect_error(lambda: request(db, "kwq8_" + "0" * 32), "PAY_002", 404)
    expect_error(lambda: request(db, order["order_id"], reason=""), "VAL_001", 400)
    expect_error(
        lambda: db.rpc(
            "finish_refund",
            {
                "refund_id": "00000000-0000-4000-8000-000000000000",
                "outcome": "refunded",
                "provider": None,
                "error": None,
            },
            as_=SERVICE,
        ),
        "PAY_010",
        404,
    )
    assert db.scalar("select count(*) from payments.refunds") == 0
