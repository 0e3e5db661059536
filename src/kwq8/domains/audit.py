"""What an operator reads from the domains schema: one domain's state, and the domain invariants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from kwq8.db import needs_migrations
from kwq8.errors import Kwq8Error


@dataclass(frozen=True)
class Violation:
    fqdn: str | None
    problem: str
    detail: str

    def render(self) -> str:
        return f"{self.fqdn or '-'}: {self.problem} ({self.detail})"


@dataclass(frozen=True)
class AuditReport:
    violations: list[Violation]

    def as_dict(self) -> dict[str, Any]:
        return {"violations": [v.__dict__ for v in self.violations]}


def audit(conn: psycopg.Connection[Any]) -> AuditReport:
    """Run domains.audit_domains()."""
    with needs_migrations("the domains audit"):
        rows = conn.execute("select fqdn, problem, detail from domains.audit_domains()").fetchall()
    return AuditReport([Violation(*r) for r in rows])


def domain_status(conn: psycopg.Connection[Any], fqdn: str) -> dict[str, Any]:
    """domains.domain_status of any owner's domain (as the service role sees it)."""
    try:
        row = conn.execute("select domains.domain_status(null, %s)", (fqdn.strip().lower(),)).fetchone()
    except psycopg.Error as exc:
        raise Kwq8Error(f"no domain {fqdn} ({exc.diag.message_primary or type(exc).__name__})") from None
    return row[0] if row else {}
