"""Reconciliation: ask UPayments about every payment that is not settled as paid before anything
is closed (``kwq8 jobs reconcile``, from a scheduler every few minutes).

The candidates and what each answer means are decided in SQL (functions/payments/reconcile.sql);
this loop only spends the merchant-wide status budget (``payments.take_status_call``, shared with
the webhooks and every service instance) and passes the answers on. It stops when the budget of
the minute is spent: the next run continues with the payments checked least recently.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from kwq8.errors import Kwq8Error
from kwq8.payments.upayments import UPaymentsClient, UPaymentsError
from kwq8.service.db import BillingDb

log = logging.getLogger("kwq8.reconcile")


@dataclass
class ReconcileReport:
    checked: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    deferred: int = 0  # left for the next run: the status budget was spent

    def as_dict(self) -> dict[str, Any]:
        return {
            "checked": self.checked,
            "outcomes": dict(self.outcomes),
            "errors": self.errors,
            "deferred": self.deferred,
        }


def reconcile(db: BillingDb, client: UPaymentsClient, *, limit: int = 100) -> ReconcileReport:
    report = ReconcileReport()
    candidates: list[dict[str, Any]] = db.call_rows("reconcile_candidates", max_rows=limit)
    for index, candidate in enumerate(candidates):
        if not db.call("take_status_call", priority="reconcile")["allowed"]:
            report.deferred = len(candidates) - index
            break
        try:
            status = client.get_payment_status(candidate["track_id"])
        except UPaymentsError as exc:
            log.warning("status check failed", extra={"order_id": candidate["order_id"], "error_kind": exc.kind})
            report.errors += 1
            if exc.status_code == 429:
                report.deferred = len(candidates) - index - 1
                break
            continue
        result = db.call("record_status_check", order_id=candidate["order_id"], verified=status.as_verified())
        report.checked += 1
        report.outcomes[result["outcome"]] += 1
        if result["outcome"] in ("applied", "needs_review", "mismatch"):
            log.warning(
                "reconciliation changed a payment",
                extra={"order_id": candidate["order_id"], "outcome": result["outcome"], "was": candidate["status"]},
            )
    return report


@dataclass
class RefundReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    deferred: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"outcomes": dict(self.outcomes), "deferred": self.deferred}


def _refund_outcome(exc: UPaymentsError) -> str:
    """A refusal means nothing was refunded; anything else leaves the outcome unknown."""
    if exc.kind == "rejected":
        return "failed"
    if exc.kind == "http" and exc.status_code is not None and 400 <= exc.status_code < 500 and exc.status_code != 429:
        return "failed"
    return "unknown"


def process_refunds(db: BillingDb, client: UPaymentsClient, *, limit: int = 20) -> RefundReport:
    """Submit the requested refunds to create-refund, each at most once: its status becomes
    'submitting' in a committed transaction before the call, and an unclear answer leaves it
    'needs_review' rather than trying again. The refund order id comes from the payment's
    current status answer, which also shows a refund UPayments already made."""
    report = RefundReport()
    batch: list[dict[str, Any]] = db.call_rows("refund_batch", max_rows=limit)
    for index, refund in enumerate(batch):
        if not db.call("take_status_call", priority="reconcile")["allowed"]:
            report.deferred = len(batch) - index
            break
        try:
            status = client.get_payment_status(refund["track_id"])
        except UPaymentsError as exc:
            log.warning("status before refund failed", extra={"order_id": refund["order_id"], "error_kind": exc.kind})
            report.outcomes["status_error"] += 1
            continue
        if status.result.upper() in ("REFUND", "REFUNDED", "VOIDED", "VOID"):
            result = db.call("record_status_check", order_id=refund["order_id"], verified=status.as_verified())
            report.outcomes[result["outcome"]] += 1
            continue
        if not status.refund_order_id:
            report.outcomes["no_refund_order_id"] += 1
            continue
        if not db.call("begin_refund", refund_id=refund["refund_id"], refund_order_id=status.refund_order_id):
            continue  # another worker took it
        provider: dict[str, Any] | None = None
        error: str | None = None
        try:
            answer = client.create_refund(
                status.refund_order_id, Decimal(str(refund["amount_kwd"])), reference=refund["order_id"]
            )
            outcome = "refunded"
            provider = {"refund_order_id": answer.refund_order_id, "refund_arn": answer.refund_arn}
        except UPaymentsError as exc:
            outcome = _refund_outcome(exc)
            error = f"{exc.kind}: {exc.message}"[:500]
            log.warning("create-refund failed", extra={"order_id": refund["order_id"], "error_kind": exc.kind})
        done = db.call("finish_refund", refund_id=refund["refund_id"], outcome=outcome, provider=provider, error=error)
        report.outcomes[done["status"]] += 1
    return report


R = TypeVar("R")


def run_with_service_clients(job: Callable[..., R], *, limit: int) -> R:
    """Run `job` (reconcile, process_refunds) with the database and UPayments clients configured
    like `kwq8 serve` (KWQ8_SERVICE_DB_URL, UPAYMENTS_*)."""
    from kwq8.service.config import ConfigError, ServiceSettings

    try:
        settings = ServiceSettings.from_env()
    except ConfigError as exc:
        raise Kwq8Error(f"the job cannot start: {exc}", exit_code=2) from None
    db = BillingDb(settings.db_url, role=settings.db_role, pool_size=1)
    db.open()
    try:
        with UPaymentsClient(settings.upayments) as client:
            return job(db, client, limit=limit)
    finally:
        db.close()
