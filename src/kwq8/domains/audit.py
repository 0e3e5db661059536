"""What an operator reads from the domains schema: one domain's state, and the domain invariants."""

from __future__ import annotations

from typing import Any

import psycopg

from kwq8.audits import Violation, violations
from kwq8.errors import Kwq8Error


def audit(conn: psycopg.Connection[Any]) -> list[Violation]:
    """Run domains.audit_domains() (each violation's subject is the domain's name)."""
    return violations(conn, "select fqdn, problem, detail from domains.audit_domains()", "the domains audit")


def domain_status(conn: psycopg.Connection[Any], fqdn: str) -> dict[str, Any]:
    """domains.domain_status of any owner's domain (as the service role sees it)."""
    try:
        row = conn.execute("select domains.domain_status(null, %s)", (fqdn.strip().lower(),)).fetchone()
    except psycopg.Error as exc:
        raise Kwq8Error(f"no domain {fqdn} ({exc.diag.message_primary or type(exc).__name__})") from None
    return row[0] if row else {}
