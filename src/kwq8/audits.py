"""What the database's audit functions return: one row per violated invariant, naming the user,
order or domain it is about (or none), the invariant, and the detail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from kwq8.db import needs_migrations


@dataclass(frozen=True)
class Violation:
    subject: str | None
    problem: str
    detail: str

    def render(self) -> str:
        return f"{self.subject or '-'}: {self.problem} ({self.detail})"

    def as_dict(self, subject_key: str) -> dict[str, Any]:
        return {subject_key: self.subject, "problem": self.problem, "detail": self.detail}


def violations(conn: psycopg.Connection[Any], query: str, what: str) -> list[Violation]:
    """The rows of an audit function (`query` selects subject, problem, detail)."""
    with needs_migrations(what):
        return [Violation(*row) for row in conn.execute(query).fetchall()]
