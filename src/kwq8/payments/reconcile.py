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
from dataclasses import dataclass, field
from typing import Any

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
    candidates: list[dict[str, Any]] = db.call("reconcile_candidates", max_rows=limit)
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
