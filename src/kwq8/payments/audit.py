"""Payments audit: every captured payment accounted for, checked in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from kwq8.audits import Violation, violations
from kwq8.db import needs_migrations


@dataclass(frozen=True)
class AuditReport:
    payments: int
    violations: list[Violation]

    def as_dict(self) -> dict[str, Any]:
        return {"payments": self.payments, "violations": [v.as_dict("order_id") for v in self.violations]}


def audit(conn: psycopg.Connection[Any]) -> AuditReport:
    """Run payments.audit_payments(), with the number of payments it covered."""
    found = violations(conn, "select order_id, problem, detail from payments.audit_payments()", "the payments audit")
    with needs_migrations("the payments audit"):
        count = conn.execute("select count(*) from public.payments").fetchone()
    return AuditReport(payments=count[0] if count else 0, violations=found)
