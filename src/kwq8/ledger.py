"""Ledger audit: every invariant of the credit books, checked in the database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from kwq8.audits import Violation


def render(violation: Violation) -> str:
    """A violation of the credit books as one line (its subject is the user)."""
    return f"{violation.problem} user={violation.subject}: {violation.detail}"


@dataclass(frozen=True)
class AuditReport:
    users: int
    transactions: int
    grants: int
    holds: int
    violations: list[Violation]

    @property
    def clean(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "transactions": self.transactions,
            "grants": self.grants,
            "holds": self.holds,
            "violations": [v.as_dict("user_id") for v in self.violations],
            "clean": self.clean,
        }


def audit(conn: psycopg.Connection[Any]) -> AuditReport:
    """Run billing.audit_ledger() in one repeatable-read snapshot, with the totals it covered."""
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        rows = conn.execute("select user_id::text, problem, detail from billing.audit_ledger()").fetchall()
        counts = conn.execute(
            "select (select count(*) from public.users), (select count(*) from public.credit_transactions), "
            "(select count(*) from billing.grants), (select count(*) from billing.holds)"
        ).fetchone()
    assert counts is not None
    return AuditReport(
        users=int(counts[0]),
        transactions=int(counts[1]),
        grants=int(counts[2]),
        holds=int(counts[3]),
        violations=[Violation(*r) for r in rows],
    )
