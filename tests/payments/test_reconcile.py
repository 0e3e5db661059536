"""Reconciliation against the local fake of UPayments, on committed databases: nothing with a
track id is closed before get-payment-status was asked, late captures are found and recorded,
and the merchant-wide status budget holds. The oracle is the fake's own record of calls and the
ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kwq8.payments.fake_upayments import FakeUPayments
from kwq8.payments.reconcile import process_refunds, reconcile
from kwq8.payments.upayments import UPaymentsClient
from kwq8.service.db import BillingDb
from kwq8.testing.database import TestDatabase

from ..credit_helpers import audit_clean
from ..payment_helpers import (
    SERVICE,
    attach,
    charged,
    checkout,
    notify,
    paid_order,
    payment,
    payment_grants,
    payments_audit_clean,
    status,
)

pytest_plugins = ("tests.service_fixtures", "tests.upayments_fixtures")


def checked(fake: FakeUPayments) -> list[str]:
    return [r.path.rsplit("/", 1)[-1] for r in fake.status_calls]


def test_reconciliation_finds_late_captures_and_closes_only_after_asking(
    kwq8_db: TestDatabase, billing: BillingDb, client: UPaymentsClient, fake: FakeUPayments
) -> None:
    user = kwq8_db.create_user()
    lost, lost_track = charged(kwq8_db, client, user)  # captured, the webhook never came
    fake.set_outcome(lost_track, "CAPTURED")
    stale, stale_track = charged(kwq8_db, client, user, age="2 days")  # never paid
    late, late_track = charged(kwq8_db, client, user, age="3 days")  # paid after the time limit
    fake.set_outcome(late_track, "CAPTURED")
    wrong, wrong_track = charged(kwq8_db, client, user)
    fake.set_outcome(wrong_track, "CAPTURED", total_price="2.300")
    declined, declined_track = charged(kwq8_db, client, user)
    fake.set_outcome(declined_track, "NOT CAPTURED")
    fresh, _ = charged(kwq8_db, client, user, age="1 minute")  # the customer is still paying

    # The database job alone closes nothing that has a track id: it cannot ask UPayments.
    kwq8_db.rpc("run_payment_jobs", {}, as_=SERVICE)
    assert {payment(kwq8_db, o)["status"] for o in (lost, stale, late, wrong, declined)} == {"pending"}

    report = reconcile(billing, client)
    assert report.checked == 5 and report.errors == 0 and report.deferred == 0
    assert sorted(checked(fake)) == sorted([lost_track, stale_track, late_track, wrong_track, declined_track])
    assert dict(report.outcomes) == {"applied": 2, "cancelled": 1, "needs_review": 1, "failed": 1}
    assert payment(kwq8_db, lost)["status"] == "paid"
    assert payment(kwq8_db, stale)["status"] == "cancelled"
    assert "abandoned" in payment(kwq8_db, stale)["status_reason"]
    # Oldest first: the late capture starts the plan, the lost one extends it by a period.
    assert (payment(kwq8_db, late)["status"], payment(kwq8_db, late)["fulfilment"]) == ("paid", "fulfilled")
    assert payment(kwq8_db, wrong)["status"] == "needs_review"
    assert payment(kwq8_db, declined)["status"] == "failed"
    assert payment(kwq8_db, fresh)["status"] == "pending"
    for order_id in (lost, late):
        assert [g["credits_amount"] for g in payment_grants(kwq8_db, order_id)] == [Decimal("100.00")]
    assert payment_grants(kwq8_db, wrong) == []

    # Checked within the interval: not asked again.
    asked = len(fake.status_calls)
    assert reconcile(billing, client).checked == 0 and len(fake.status_calls) == asked

    # A closed payment is checked again later: UPayments now reports the declined one captured.
    kwq8_db.sql("update public.payments set checked_at = checked_at - interval '2 hours'")
    fake.set_outcome(declined_track, "CAPTURED")
    again = reconcile(billing, client)
    # The stale one is cancelled now, and checked again too: a capture may still show up.
    assert sorted(checked(fake)[asked:]) == sorted([stale_track, declined_track])
    assert dict(again.outcomes) == {"applied": 1, "late": 1}
    assert payment(kwq8_db, declined)["status"] == "paid"
    assert len(payment_grants(kwq8_db, declined)) == 1
    assert kwq8_db.sql("select * from billing.audit_ledger()") == []
    payments_audit_clean(kwq8_db)


def test_reconciliation_stays_within_the_merchant_wide_status_budget(
    kwq8_db: TestDatabase, billing: BillingDb, client: UPaymentsClient, fake: FakeUPayments
) -> None:
    kwq8_db.sql("update payments.settings set status_calls_per_minute = 3, status_calls_reserved = 1")
    users = [kwq8_db.create_user() for _ in range(5)]
    for user in users:
        charged(kwq8_db, client, user)
    # A customer's refresh may use only what is above the reserve: 2 of the 3.
    taken = [kwq8_db.rpc("take_status_call", {"priority": "user"}, as_=SERVICE)["allowed"] for _ in range(3)]
    assert taken == [True, True, False]
    report = reconcile(billing, client)
    assert (report.checked, report.deferred) == (1, 4) and len(fake.status_calls) == 1
    refused: dict[str, Any] = kwq8_db.rpc("take_status_call", {"priority": "webhook"}, as_=SERVICE)
    assert refused["allowed"] is False and 1 <= refused["retry_after"] <= 60
    hits = kwq8_db.scalar("select sum(hits) from ratelimit.rate_limits where bucket = 'upayments:get-payment-status'")
    assert hits == 3


def test_webhook_and_status_must_agree_before_a_payment_closes(kwq8_db: TestDatabase) -> None:
    user = kwq8_db.create_user()
    order = checkout(kwq8_db, user)
    track = attach(kwq8_db, order["order_id"])
    # A webhook says CAPTURED while the status still says NOT CAPTURED: not final, still pending.
    first = notify(kwq8_db, track, "CAPTURED", status(order["order_id"], "23.000", track, "NOT CAPTURED"))
    assert (first["outcome"], first["final"]) == ("pending", False)
    second = notify(kwq8_db, track, "CAPTURED", status(order["order_id"], "23.000", track))
    assert (second["outcome"], second["final"], second["duplicate"]) == ("applied", True, False)
    assert payment(kwq8_db, order["order_id"])["status"] == "paid"
    audit_clean(kwq8_db)


def test_refunds_job_submits_each_refund_once(
    kwq8_db: TestDatabase, billing: BillingDb, client: UPaymentsClient, fake: FakeUPayments
) -> None:
    ok, lost, refused = (paid_order(kwq8_db, billing, client, fake) for _ in range(3))
    for order_id in (ok, lost, refused):
        kwq8_db.rpc("request_refund", {"order_id": order_id, "reason": "customer asked"}, as_=SERVICE)
    # Oldest first, one per run: the first is accepted, the second times out (unknown
    # outcome), the third is refused by UPayments.
    report = process_refunds(billing, client, limit=1)
    fake.timeout_next("refund", delay_s=5.0)  # longer than the client's timeout
    report.outcomes.update(process_refunds(billing, client, limit=1).outcomes)
    fake.reject_next("refund", "Insufficient balance")
    report.outcomes.update(process_refunds(billing, client, limit=1).outcomes)
    assert dict(report.outcomes) == {"refunded": 1, "needs_review": 1, "failed": 1}
    sent = [r.json() for r in fake.refunds]
    assert len(sent) == 3 and all(Decimal(str(b["totalPrice"])) == Decimal("23.000") for b in sent)
    statuses = {
        row["order_id"]: row["status"]
        for row in kwq8_db.sql(
            "select p.order_id, r.status from payments.refunds r join public.payments p on p.id = r.payment_id"
        )
    }
    assert statuses == {ok: "refunded", lost: "needs_review", refused: "failed"}
    assert payment(kwq8_db, ok)["status"] == "refunded" and payment(kwq8_db, lost)["status"] == "paid"
    # Nothing is sent again: the unknown one waits for an operator.
    assert dict(process_refunds(billing, client).outcomes) == {} and len(fake.refunds) == 3
    assert kwq8_db.sql("select * from billing.audit_ledger()") == []
    payments_audit_clean(kwq8_db)
