"""Plans change both ways and credits come in packs: a downgrade scheduled for the period end,
cancellation keeping the credits until then, the upgrade price previewed without a charge, and
one-off credit packs bought through the same checkout."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import NOW, audit_clean, expect_error
from ..payment_helpers import (
    SERVICE,
    attach,
    checkout,
    monthly_remaining,
    notify,
    pay,
    payment,
    payment_grants,
    payments_audit_clean,
    status,
    subscription,
    user_plan,
)

pytest_plugins = ("tests.credit_fixtures",)

MID_PERIOD = "2026-05-25T21:00:00+00:00"  # half of the 31-day period from NOW is left
PERIOD_END = "2026-06-10T09:00:00+00:00"
IN_GRACE = "2026-06-11T09:00:00+00:00"  # a day after the period end, within the 3-day grace


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def pack_checkout(db: TestDatabase, user: Identity, pack: str = "pack_150", key: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = db.rpc(
        "create_pack_checkout",
        {
            "user_id": user.user_id,
            "credit_pack": pack,
            "payment_method": "knet",
            "idempotency_key": key or str(uuid.uuid4()),
        },
        as_=SERVICE,
    )
    return result


def capture(db: TestDatabase, order: dict[str, Any]) -> dict[str, Any]:
    track = attach(db, order["order_id"])
    event = notify(db, track, "CAPTURED", status(order["order_id"], order["amount_kwd"], track))
    assert event["outcome"] == "applied", event
    return event["payment"]


# --------------------------------------------------------------------------- previews


def test_upgrade_preview_is_the_checkout_price_and_creates_nothing(db: TestDatabase, user: Identity) -> None:
    pay(db, user, "basic")
    db.freeze_time(MID_PERIOD)
    payments_before = db.scalar("select count(*) from public.payments")
    quote = db.rpc("preview_checkout", {"user_id": user.user_id, "plan": "pro"}, as_=SERVICE)
    # Half the period left: (38 - 23) / 2 KWD and (200 - 100) / 2 credits, as the checkout charges.
    assert (quote["kind"], quote["amount_kwd"], quote["proration"]["credits"]) == (
        "upgrade",
        Decimal("7.500"),
        Decimal("50.00"),
    )
    assert db.scalar("select count(*) from public.payments") == payments_before
    order = checkout(db, user, "pro")
    assert (order["kind"], order["amount_kwd"], order["proration"]) == (
        quote["kind"],
        quote["amount_kwd"],
        quote["proration"],
    )
    assert db.rpc("preview_checkout", {"user_id": user.user_id, "plan": "basic"}, as_=SERVICE)["kind"] == "renewal"
    fresh = db.create_user()
    assert db.rpc("preview_checkout", {"user_id": fresh.user_id, "plan": "premium"}, as_=SERVICE) == {
        "plan": "premium",
        "kind": "new",
        "amount_kwd": Decimal("59.000"),
        "currency": "KWD",
        "proration": None,
    }
    expect_error(lambda: db.rpc("preview_checkout", {"user_id": user.user_id, "plan": "gold"}, as_=SERVICE), "VAL_001")
    expect_error(lambda: db.rpc("preview_checkout", {"user_id": user.user_id, "plan": "pro"}, as_=user), "42501")


# --------------------------------------------------------------------------- downgrades


def test_downgrade_is_scheduled_for_the_period_end_and_renews_on_the_cheaper_plan(
    db: TestDatabase, user: Identity
) -> None:
    pay(db, user, "pro")
    db.freeze_time(MID_PERIOD)
    # Buying the cheaper plan mid-period is still not a checkout; scheduling it is.
    expect_error(lambda: checkout(db, user, "basic"), "PAY_004", 409)
    scheduled = db.rpc("schedule_plan_change", {"user_id": user.user_id, "plan": "basic"}, as_=SERVICE)
    assert (scheduled["plan"], scheduled["scheduled_plan"]) == ("pro", "basic")
    assert ts(scheduled["change_at"]) == ts(PERIOD_END)
    # Until the period ends nothing changes: the plan, its credits and its gates stay.
    assert user_plan(db, user)["plan"] == "pro"
    expect_error(lambda: checkout(db, user, "basic"), "PAY_004")
    # An upgrade is not scheduled: it is bought.
    expect_error(
        lambda: db.rpc("schedule_plan_change", {"user_id": user.user_id, "plan": "premium"}, as_=SERVICE),
        "PAY_011",
        409,
    )
    # Once the period has ended (within the grace window), the scheduled plan renews the chain.
    db.freeze_time(IN_GRACE)
    order = checkout(db, user, "basic")
    assert (order["kind"], order["amount_kwd"]) == ("renewal", Decimal("23.000"))
    capture(db, order)
    sub = subscription(db, user)
    assert sub is not None
    assert (sub["plan"], sub["scheduled_plan"], sub["current_period_start"], sub["current_period_end"]) == (
        "basic",
        None,
        ts(NOW),
        ts("2026-07-10T09:00:00+00:00"),
    )
    row = payment(db, order["order_id"])
    assert (row["period_start"], row["period_end"]) == (ts(PERIOD_END), ts("2026-07-10T09:00:00+00:00"))
    assert user_plan(db, user)["plan"] == "basic"
    # The pro credits of the ended period roll over (200); basic's monthly credits are added (100).
    assert monthly_remaining(db, user) == Decimal("300.00")
    audit_clean(db)
    payments_audit_clean(db)


def test_scheduling_the_current_plan_clears_the_schedule(db: TestDatabase, user: Identity) -> None:
    pay(db, user, "premium")
    db.rpc("schedule_plan_change", {"user_id": user.user_id, "plan": "basic"}, as_=SERVICE)
    cleared = db.rpc("schedule_plan_change", {"user_id": user.user_id, "plan": "premium"}, as_=SERVICE)
    assert cleared["scheduled_plan"] is None and cleared["change_at"] is None
    stranger = db.create_user()
    expect_error(
        lambda: db.rpc("schedule_plan_change", {"user_id": stranger.user_id, "plan": "basic"}, as_=SERVICE), "SUB_001"
    )


def test_cancel_at_period_end_keeps_plan_and_credits_until_the_period_ends(db: TestDatabase, user: Identity) -> None:
    pay(db, user, "pro")
    db.freeze_time(MID_PERIOD)
    result = db.rpc("set_cancel_at_period_end", {"user_id": user.user_id, "cancel": True}, as_=SERVICE)
    assert result["cancel_at_period_end"] is True
    summary = db.rpc("get_credit_summary", as_=user)
    assert summary["plan"]["code"] == "pro" and Decimal(str(summary["balance"])) >= Decimal("200")
    db.freeze_time((ts(PERIOD_END) - timedelta(minutes=1)).isoformat())
    assert db.rpc("get_credit_summary", as_=user)["plan"]["code"] == "pro"
    # After the period and its grace window the subscription ends as cancelled.
    db.freeze_time((ts(PERIOD_END) + timedelta(days=4)).isoformat())
    db.rpc("get_credit_summary", as_=user)
    sub = subscription(db, user)
    assert sub is not None and sub["status"] == "cancelled"


# --------------------------------------------------------------------------- credit packs


def test_price_list_of_credit_packs_is_public(db: TestDatabase, anon: Identity) -> None:
    rows = db.query_as(anon, "select code, credits, price_kwd::text from public.credit_packs order by sort_order")
    assert rows == [
        ("pack_50", Decimal("50.00"), "5.000"),
        ("pack_150", Decimal("150.00"), "13.500"),
        ("pack_400", Decimal("400.00"), "32.000"),
    ]


def test_credit_pack_is_bought_through_checkout_and_granted_once_as_purchase_credits(
    db: TestDatabase, user: Identity
) -> None:
    pay(db, user, "basic")
    key = str(uuid.uuid4())
    order = pack_checkout(db, user, "pack_150", key)
    assert (order["kind"], order["credit_pack"], order["plan"], order["amount_kwd"]) == (
        "credit_pack",
        "pack_150",
        None,
        Decimal("13.500"),
    )
    assert pack_checkout(db, user, "pack_150", key)["order_id"] == order["order_id"]  # a double click
    expect_error(lambda: pack_checkout(db, user, "pack_50", key), "CREDIT_005")
    sub_before = subscription(db, user)
    paid = capture(db, order)
    assert (paid["status"], paid["fulfilment"], str(paid["credits_granted"])) == ("paid", "fulfilled", "150.00")
    grants = payment_grants(db, order["order_id"])
    assert len(grants) == 1 and grants[0]["source"] == "purchase" and grants[0]["credits_amount"] == Decimal("150")
    assert grants[0]["expires_at"] == ts(NOW) + timedelta(days=180)
    assert subscription(db, user) == sub_before  # the plan is not touched
    # A redelivered capture grants nothing more.
    track = payment(db, order["order_id"])["track_id"]
    notify(db, track, "CAPTURED", status(order["order_id"], order["amount_kwd"], track))
    assert len(payment_grants(db, order["order_id"])) == 1
    described = db.scalar(
        "select description_ar from public.credit_transactions where idempotency_key = %s",
        ("srv:payment:" + order["order_id"],),
    )
    assert described == "رصيد مشترى"
    expect_error(lambda: pack_checkout(db, user, "pack_9"), "VAL_001")
    audit_clean(db)
    payments_audit_clean(db)


def test_refunded_credit_pack_takes_back_what_is_left(db: TestDatabase, user: Identity) -> None:
    order = pack_checkout(db, user, "pack_50")
    capture(db, order)
    db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": str(uuid.uuid4())}, as_=user)
    refund = db.rpc("request_refund", {"order_id": order["order_id"], "reason": "customer asked"}, as_=SERVICE)
    track = payment(db, order["order_id"])["track_id"]
    notify(db, track, "REFUND", status(order["order_id"], order["amount_kwd"], track, result="REFUND"))
    row = db.sql(
        "select status, credits_clawed_back, credits_shortfall, note from payments.refunds where id = %s",
        (refund["refund_id"],),
    )[0]
    assert (row["status"], row["credits_clawed_back"], row["credits_shortfall"]) == (
        "refunded",
        Decimal("47.00"),
        Decimal("3.00"),
    )
    assert row["note"].startswith("credit pack")
    assert user_plan(db, user)["credits_balance"] == 0
    audit_clean(db)
    payments_audit_clean(db)
