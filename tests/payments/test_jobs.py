"""The payments job: ended subscriptions and their credits, abandoned checkouts, holds, counters."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..conftest import run_cli
from ..credit_helpers import NOW, audit_clean, balance, grant
from ..payment_helpers import SERVICE, checkout, monthly_remaining, pay, payment, subscription, user_plan

IN_GRACE = "2026-06-10T09:05:00+00:00"  # just after the period end: within the renewal grace window
AFTER_END = "2026-06-13T09:05:00+00:00"  # after the 3-day grace window


@pytest.fixture
def db(kwq8_tx: TestDatabase) -> TestDatabase:
    kwq8_tx.freeze_time(NOW)
    kwq8_tx.sql("update public.plans set daily_bonus = 0")  # keeps the grant counts to the point
    return kwq8_tx


def run_jobs(db: TestDatabase) -> dict[str, int]:
    result: dict[str, int] = db.rpc("run_payment_jobs", {}, as_=SERVICE)
    return result


def test_job_ends_subscriptions_and_their_monthly_credits(db: TestDatabase) -> None:
    lapsing, cancelling, renewed = db.create_user(), db.create_user(), db.create_user()
    for user in (lapsing, cancelling, renewed):
        pay(db, user, "basic")
    grant(db, lapsing, 7, source="purchase")  # bought credits outlive the subscription
    db.rpc("set_cancel_at_period_end", {"user_id": cancelling.user_id, "cancel": True}, as_=SERVICE)
    db.freeze_time("2026-06-01T09:00:00+00:00")
    pay(db, renewed, "basic")  # a renewal: the period now ends on July 10
    db.freeze_time("2026-06-10T08:40:00+00:00")  # the hold expires at 08:55
    hold = db.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": "h1"}, as_=lapsing)
    assert hold["hold_id"]

    db.freeze_time(IN_GRACE)
    assert run_jobs(db)["subscriptions_ended"] == 0  # a renewal may still come
    db.freeze_time(AFTER_END)
    result = run_jobs(db)
    assert result["subscriptions_ended"] == 2 and result["subscription_credits_expired"] == 2
    assert result["holds_released"] == 0  # released with the lapsing subscription's credits

    lapsed = subscription(db, lapsing)
    assert lapsed is not None
    assert (lapsed["status"], lapsed["ended_at"].isoformat()) == ("expired", "2026-06-10T09:00:00+00:00")
    cancelled = subscription(db, cancelling)
    assert cancelled is not None and cancelled["status"] == "cancelled"
    still = subscription(db, renewed)
    assert still is not None and still["status"] == "active"
    for user in (lapsing, cancelling):
        assert user_plan(db, user)["plan"] is None and monthly_remaining(db, user) == 0
    assert balance(db, lapsing) == Decimal("7.00")
    assert user_plan(db, renewed)["plan"] == "basic" and monthly_remaining(db, renewed) == Decimal("200.00")
    status = db.sql("select status from billing.holds where id = %s", (hold["hold_id"],))
    assert status == [{"status": "expired"}]

    assert run_jobs(db) == {
        "subscriptions_ended": 0,
        "subscription_credits_expired": 0,
        "checkouts_abandoned": 0,
        "holds_released": 0,
        "grants_expired": 0,
        "rate_limit_rows_deleted": 0,
        "domain_orders_cancelled": 0,
        "domains_renewal_due": 0,
        "domains_lapsed": 0,
        "registrar_budget_rows_deleted": 0,
    }
    audit_clean(db)


def test_job_keeps_rollover_credits_when_configured_to(db: TestDatabase) -> None:
    db.sql("update payments.settings set expire_credits_with_subscription = false")
    user = db.create_user()
    pay(db, user, "basic")
    db.freeze_time(AFTER_END)
    assert run_jobs(db)["subscriptions_ended"] == 1
    assert user_plan(db, user)["plan"] is None and monthly_remaining(db, user) == Decimal("100.00")
    db.freeze_time("2026-07-10T09:00:00+00:00")  # one rollover period later they expire as granted
    assert run_jobs(db)["grants_expired"] == 1
    assert monthly_remaining(db, user) == 0
    audit_clean(db)


def test_job_closes_abandoned_checkouts_and_old_counters(db: TestDatabase) -> None:
    user = db.create_user()
    old = checkout(db, user)
    db.rpc("hit_rate_limit", {"bucket": "ip:x", "max_hits": 5, "window_seconds": 60}, as_=SERVICE)
    db.freeze_time("2026-05-11T08:00:00+00:00")
    recent = checkout(db, user)
    db.rpc("hit_rate_limit", {"bucket": "ip:x", "max_hits": 5, "window_seconds": 60}, as_=SERVICE)
    db.freeze_time("2026-05-11T09:30:00+00:00")
    result = run_jobs(db)
    assert (result["checkouts_abandoned"], result["rate_limit_rows_deleted"]) == (1, 2)
    closed = payment(db, old["order_id"])
    assert closed["status"] == "cancelled" and closed["status_reason"].startswith("abandoned")
    assert payment(db, recent["order_id"])["status"] == "pending"


def test_jobs_run_command_runs_the_job_once(kwq8_db: TestDatabase) -> None:
    # The CLI runs on the real clock: set the subscription up in the past.
    kwq8_db.freeze_time("2020-01-10T09:00:00+00:00")
    kwq8_db.sql("update public.plans set daily_bonus = 0")
    user: Identity = kwq8_db.create_user()
    pay(kwq8_db, user, "pro")
    done = run_cli("jobs", "run", "--json", "--db-url", kwq8_db.url("postgres"))
    assert done.code == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["subscriptions_ended"] == 1 and report["subscription_credits_expired"] == 1
    again = run_cli("jobs", "run", "--db-url", kwq8_db.url("postgres"))
    assert again.code == 0 and "0 subscription(s) ended" in again.stderr
    unreachable = run_cli("jobs", "run", "--db-url", "postgresql://postgres:x@127.0.0.1:1/postgres")
    assert unreachable.code == 2 and "Traceback" not in unreachable.stderr
