"""Model-based randomized test of the payment path: random sequences of checkouts, customers
paying or failing, webhooks in any order and multiplicity (with lagging statuses and wrong
amounts), reconciliation checks, job runs, renewals early and late, refunds and squatting
attempts with every key a user can see. The expected state (subscription period, payment
statuses, balance, grants by payment) is computed by a separate model from the event sequence
alone, and the database must equal it after every step; both audits must stay clean."""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import NOW, audit_clean, balance
from ..payment_helpers import SERVICE, attach, checkout, notify, payment, payments_audit_clean, subscription

pytest_plugins = ("tests.credit_fixtures",)

PRICE = Decimal("23.000")
MONTHLY = Decimal("100.00")
GRACE = timedelta(days=3)
TTL = timedelta(hours=24)
START = datetime.fromisoformat(NOW)  # 09:00 UTC, 12:00 in Kuwait: whole-day steps keep the date


def add_months(anchor: datetime, months: int) -> datetime:
    """Calendar months from the anchor's day, clamped to the month's length (Kuwait = UTC+3 and
    every time here is 12:00 in Kuwait, so the UTC date is the Kuwait date)."""
    month = anchor.month - 1 + months
    year, month = anchor.year + month // 12, month % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


@dataclass
class Grant:
    order_id: str
    remaining: Decimal
    granted_at: datetime
    expires_at: datetime


@dataclass
class Payment:
    order_id: str
    track_id: str
    created_at: datetime
    status: str = "pending"
    truth: str = "PENDING"  # what UPayments knows
    amount_ok: bool = True
    period: tuple[datetime, datetime] | None = None


@dataclass
class Model:
    now: datetime = START
    payments: list[Payment] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    sub: dict[str, Any] | None = None  # anchor, end, status, last
    spent_keys: set[str] = field(default_factory=set)
    final_events: set[tuple[str, str]] = field(default_factory=set)  # (track id, notified result)

    def balance(self) -> Decimal:
        return sum((g.remaining for g in self.grants if g.expires_at > self.now), Decimal(0))

    def upkeep(self) -> None:
        """A lapse is due once the grace window is over: the subscription ends at its period end
        and what is left of the monthly credits goes with it."""
        if self.sub and self.sub["status"] == "active" and self.sub["end"] + GRACE <= self.now:
            self.sub["status"] = "expired"
            for g in self.grants:
                g.remaining = Decimal(0)

    def active(self) -> bool:
        return bool(self.sub and self.sub["status"] == "active" and self.sub["end"] + GRACE > self.now)

    def fulfil(self, p: Payment) -> None:
        self.upkeep()
        if self.active():
            assert self.sub is not None
            start, k = self.sub["end"], 1
            while add_months(self.sub["anchor"], k) <= self.sub["end"]:
                k += 1
            end = add_months(self.sub["anchor"], k)
            self.sub.update(end=end, last=p.order_id)
        else:
            start, end = self.now, add_months(self.now, 1)
            self.sub = {"anchor": self.now, "end": end, "status": "active", "last": p.order_id}
        p.status, p.period = "paid", (start, end)
        # Rollover: the credits live one billing period past the period they were bought for.
        self.grants.append(Grant(p.order_id, MONTHLY, self.now, add_months(end, 1)))

    def status_answer(self, p: Payment, verified: str, notified: str | None, may_close: bool, abandon: bool) -> None:
        classes = {"CAPTURED": "captured", "NOT CAPTURED": "failed", "PENDING": "pending"}
        cls = classes[verified]
        disagree = notified is not None and classes[notified] != cls
        if cls == "captured":
            if p.status in ("paid", "refunded", "needs_review"):
                return
            if not p.amount_ok:
                p.status = "needs_review"
                return
            self.fulfil(p)
        elif p.status == "pending" and ((cls == "failed" and may_close and not disagree) or abandon):
            p.status = "failed" if cls == "failed" else "cancelled"

    def refund(self, p: Payment) -> None:
        self.upkeep()
        for g in self.grants:
            if g.order_id == p.order_id and g.expires_at > self.now:
                g.remaining = Decimal(0)
        if p.status == "paid" and self.sub and self.sub["status"] == "active" and self.sub["last"] == p.order_id:
            assert p.period is not None
            start, end = p.period
            if end == self.sub["end"] and start > self.now and start > self.sub["anchor"]:
                self.sub["end"] = start
            elif end == self.sub["end"]:
                # The running period ends now (a period is never empty: at least 1 µs).
                self.sub.update(end=max(self.now, self.sub["anchor"] + timedelta(microseconds=1)), status="expired")
                for g in self.grants:
                    g.remaining = Decimal(0)
        p.status = "refunded"

    def spend(self, cost: Decimal) -> bool:
        self.upkeep()
        if self.balance() < cost:
            return False
        left = cost
        for g in sorted(
            (g for g in self.grants if g.expires_at > self.now and g.remaining > 0),
            key=lambda g: (g.expires_at, g.granted_at),
        ):
            take = min(g.remaining, left)
            g.remaining -= take
            left -= take
            if left == 0:
                break
        return True


# Checkouts, payments and status answers are the steps that reach the interesting states, so
# they come more often.
step = st.one_of(
    st.tuples(st.just("checkout")),
    st.tuples(st.just("pay"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("reconcile"), st.integers(0, 2)),
    st.tuples(st.just("checkout")),
    st.tuples(st.just("pay"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("decline"), st.integers(0, 2)),
    st.tuples(
        st.just("webhook"),
        st.integers(0, 2),
        st.sampled_from(["CAPTURED", "NOT CAPTURED", None]),
        st.booleans(),  # the status answer lags behind UPayments' truth
    ),
    st.tuples(st.just("reconcile"), st.integers(0, 2)),
    st.tuples(st.just("days"), st.sampled_from([1, 2, 28, 30, 31, 32, 33])),
    st.tuples(st.just("job")),
    st.tuples(st.just("refund"), st.integers(0, 2)),
    st.tuples(st.just("spend"), st.integers(0, 2), st.booleans()),
)


def run_step(db: TestDatabase, user: Identity, m: Model, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "checkout":
        m.upkeep()
        order = checkout(db, user)
        assert order["kind"] == ("renewal" if m.active() else "new")
        track = attach(db, order["order_id"])
        m.payments.append(Payment(order["order_id"], track, m.now))
        return
    if kind == "days":
        m.now += timedelta(days=op[1])
        db.freeze_time(m.now.isoformat())
        return
    if kind == "job":
        db.rpc("run_payment_jobs", {}, as_=SERVICE)
        m.upkeep()
        return
    if not m.payments:
        return
    p = m.payments[op[1] % len(m.payments)]
    if kind == "pay" and p.truth in ("PENDING", "NOT CAPTURED"):
        p.truth, p.amount_ok = "CAPTURED", op[2]
    elif kind == "decline" and p.truth == "PENDING":
        p.truth = "NOT CAPTURED"
    elif kind in ("webhook", "reconcile"):
        lagging = kind == "webhook" and op[3] and p.truth != "PENDING"
        verified = "PENDING" if lagging else p.truth
        answer = {
            "result": verified,
            "track_id": p.track_id,
            "order_id": p.order_id,
            "payment_id": "1" + "0" * 17,
            "amount": str(PRICE if p.amount_ok or verified != "CAPTURED" else Decimal("2.300")),
            "currency": "KWD",
        }
        if kind == "webhook":
            event = (p.track_id, op[2] or "")
            result = notify(db, p.track_id, op[2], answer)
            if event in m.final_events:
                assert result["duplicate"] is True
                return
            before = p.status
            m.status_answer(p, verified, op[2], may_close=True, abandon=False)
            disagree = op[2] is not None and op[2] != verified
            if not disagree and not (verified == "PENDING" and before == "pending"):
                m.final_events.add(event)
            assert result["final"] == (event in m.final_events)
        else:
            db.rpc("record_status_check", {"order_id": p.order_id, "verified": answer}, as_=SERVICE)
            abandon = p.status == "pending" and p.created_at <= m.now - TTL
            m.status_answer(p, verified, None, may_close=True, abandon=abandon)
    elif kind == "refund" and p.status in ("paid", "needs_review"):
        refund = db.rpc("request_refund", {"order_id": p.order_id, "reason": "model"}, as_=SERVICE)
        db.rpc("begin_refund", {"refund_id": refund["refund_id"], "refund_order_id": "R"}, as_=SERVICE)
        db.rpc(
            "finish_refund",
            {"refund_id": refund["refund_id"], "outcome": "refunded", "provider": None, "error": None},
            as_=SERVICE,
        )
        m.refund(p)
    elif kind == "spend":
        # Squatting: the server's key for this payment is refused; the user's own look-alike is
        # an ordinary spend of 1 credit.
        squat = f"srv:payment:{p.order_id}"
        try:
            db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": squat}, as_=user)
            raise AssertionError("a browser spent under a server key")
        except ApiError as exc:
            assert exc.code == "CREDIT_015"
        own = f"payment:{p.order_id}" if op[2] else str(uuid.uuid4())
        try:
            db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": own}, as_=user)
            ok = True
        except ApiError as exc:
            assert exc.code == "CREDIT_001", exc
            ok = False
        if own in m.spent_keys:
            assert ok  # a replay of the first spend, charged once
            return
        assert ok == m.spend(Decimal(1))
        if ok:
            m.spent_keys.add(own)


def compare(db: TestDatabase, user: Identity, m: Model) -> None:
    m.upkeep()
    # The database catches up on its own upkeep only when something locks the user; read the
    # derived truth after the job has run (the job and the upkeep end lapses alike).
    db.rpc("run_payment_jobs", {}, as_=SERVICE)
    for p in m.payments:
        row = payment(db, p.order_id)
        assert row["status"] == p.status, (p, row)
        grants = db.sql(
            "select count(*) as n from public.credit_transactions where idempotency_key = %s",
            ("srv:payment:" + p.order_id,),
        )[0]["n"]
        assert grants == (1 if p.period is not None else 0), p
    sub = subscription(db, user)
    if m.sub is None:
        assert sub is None
    else:
        assert sub is not None
        assert (sub["status"], sub["current_period_end"]) == (m.sub["status"], m.sub["end"]), (sub, m.sub)
    assert balance(db, user) == m.balance()


PAID = [("checkout",), ("pay", 0, True), ("reconcile", 0)]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=25))
# Sequences at the edges, always run besides the random ones: a renewal in the grace window, a
# lapse found by the user's own spend, a wrong amount refunded, a lagging status, a webhook the
# status contradicts, a refund of a renewal, a squat before paying.
@example(steps=[*PAID, ("days", 31), ("days", 2), ("checkout",), ("pay", 1, True), ("webhook", 1, "CAPTURED", False)])
@example(steps=[*PAID, ("days", 33), ("days", 1), ("spend", 0, False), ("checkout",)])
@example(steps=[("checkout",), ("pay", 0, False), ("webhook", 0, "CAPTURED", False), ("job",), ("refund", 0)])
@example(steps=[("checkout",), ("pay", 0, True), ("webhook", 0, "CAPTURED", True), ("webhook", 0, "CAPTURED", False)])
@example(
    steps=[
        ("checkout",),
        ("decline", 0),
        ("webhook", 0, "CAPTURED", False),
        ("pay", 0, True),
        ("webhook", 0, "CAPTURED", False),
    ]
)
@example(steps=[*PAID, ("days", 2), ("checkout",), ("pay", 1, True), ("reconcile", 1), ("days", 1), ("refund", 1)])
@example(
    steps=[
        ("checkout",),
        ("spend", 0, True),
        ("pay", 0, True),
        ("reconcile", 0),
        ("spend", 0, True),
        ("spend", 0, True),
    ]
)
@example(
    steps=[("checkout",), ("days", 2), ("reconcile", 0), ("pay", 0, True), ("reconcile", 0), ("days", 31), ("job",)]
)
def test_payments_follow_the_model(db: TestDatabase, steps: list[tuple[Any, ...]]) -> None:
    db.freeze_time(NOW)
    db.sql("update public.plans set daily_bonus = 0")  # the model has no daily bonus
    user = db.create_user()
    m = Model()
    for op in steps:
        run_step(db, user, m, op)
        compare(db, user, m)
    audit_clean(db)
    payments_audit_clean(db)
