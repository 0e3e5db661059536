"""Payments audit: every captured payment accounted for, checked in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from kwq8.db import needs_migrations


@dataclass(frozen=True)
class Violation:
    order_id: str | None
    problem: str
    detail: str

    def render(self) -> str:
        return f"{self.order_id or '-'}: {self.problem} ({self.detail})"


@dataclass(frozen=True)
class AuditReport:
    payments: int
    violations: list[Violation]

    def as_dict(self) -> dict[str, Any]:
        return {"payments": self.payments, "violations": [v.__dict__ for v in self.violations]}


def audit(conn: psycopg.Connection[Any]) -> AuditReport:
    """Run payments.audit_payments(), with the number of payments it covered."""
    with needs_migrations("the payments audit"):
        rows = conn.execute("select order_id, problem, detail from payments.audit_payments()").fetchall()
        count = conn.execute("select count(*) from public.payments").fetchone()
    return AuditReport(payments=count[0] if count else 0, violations=[Violation(*r) for r in rows])
