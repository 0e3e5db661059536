"""Renewals: periods anchored to the day the subscription started, a grace window in which a late
renewal keeps the rollover credits, and a lapsed subscription ended by the user's own upkeep
rather than whenever the job runs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import audit_clean, balance, expect_error, grant, key
from ..payment_helpers import (
    attach,
    checkout,
    monthly_remaining,
    notify,
    payments_audit_clean,
    status,
    subscription,
    user_plan,
)

pytest_plugins = ("tests.credit_fixtures",)

PERIOD_END = "2026-06-10T09:00:00+00:00"  # one month after NOW (credit_helpers.NOW)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def buy(db: TestDatabase, user: Identity, plan: str = "basic") -> dict[str, object]:
    order = checkout(db, user, plan)
    track = attach(db, order["order_id"])
    event = notify(db, track, "CAPTURED", status(order["order_id"], order["amount_kwd"], track))
    assert event["outcome"] == "applied", event
    return order


def test_periods_stay_anchored_to_the_starting_day(db: TestDatabase, user: Identity) -> None:
    db.freeze_time("2026-01-30T21:30:00+00:00")  # 00:30 on Jan 31 in Kuwait
    buy(db, user)
    ends = []
    for at in ("2026-02-20T09:00:00+00:00", "2026-03-20T09:00:00+00:00", "2026-04-20T09:00:00+00:00"):
        db.freeze_time(at)
        assert buy(db, user)["kind"] == "renewal"
        sub = subscription(db, user)
        assert sub is not None
        ends.append(sub["current_period_end"])
    # Jan 31 -> Feb 28 -> Mar 31 -> Apr 30 -> May 31 (Kuwait time), never drifting to the 28th.
    assert ends == [
        ts("2026-03-30T21:30:00+00:00"),
        ts("2026-04-29T21:30:00+00:00"),
        ts("2026-05-30T21:30:00+00:00"),
    ]
    audit_clean(db)
    payments_audit_clean(db)


def test_a_renewal_just_after_the_period_end_keeps_the_rollover_credits(db: TestDatabase, user: Identity) -> None:
    buy(db, user)
    db.freeze_time("2026-06-10T09:01:00+00:00")  # one minute after the end, the job has not run
    order = buy(db, user)
    assert order["kind"] == "renewal"
    sub = subscription(db, user)
    assert sub is not None and sub["status"] == "active"
    # The new period follows the old one without a gap, anchored to May 10.
    assert (sub["current_period_start"], sub["current_period_end"]) == (
        ts("2026-05-10T09:00:00+00:00"),
        ts("2026-07-10T09:00:00+00:00"),
    )
    # Both months' credits: the first period's 100 roll over, the second's 100 are new.
    assert monthly_remaining(db, user) == Decimal("200.00")
    audit_clean(db)
    payments_audit_clean(db)


def test_a_lapsed_subscription_ends_in_the_users_own_upkeep(db: TestDatabase, user: Identity) -> None:
    buy(db, user)
    # After the period and its grace window, without any job run: the next spend finds the
    # subscription ended and its monthly credits gone.
    db.freeze_time("2026-06-13T09:00:01+00:00")
    expect_error(
        lambda: db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user),
        "CREDIT_001",
        402,
    )
    # The refused spend wrote nothing; the next call that succeeds keeps what its upkeep did.
    grant(db, user, 4)
    sub = subscription(db, user)
    assert sub is not None and sub["status"] == "expired" and sub["ended_at"] == ts(PERIOD_END)
    assert user_plan(db, user)["plan"] is None
    assert balance(db, user) == 4 and monthly_remaining(db, user) == 0
    audit_clean(db)
    payments_audit_clean(db)


def test_within_the_grace_window_the_plan_is_over_but_the_credits_wait(db: TestDatabase, user: Identity) -> None:
    buy(db, user)
    db.freeze_time("2026-06-11T09:00:00+00:00")
    db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    assert subscription(db, user)["status"] == "active"  # type: ignore[index]
    # Another plan bought in the grace window starts afresh.
    order = buy(db, user, "pro")
    assert order["kind"] == "new"
    sub = subscription(db, user)
    assert sub is not None and (sub["plan"], sub["current_period_start"]) == ("pro", ts("2026-06-11T09:00:00+00:00"))
    audit_clean(db)
    payments_audit_clean(db)
