"""The payments job (payments.run_payment_jobs): the periodic clean-up the database does itself."""

from __future__ import annotations

from typing import Any

import psycopg

from kwq8.db import needs_migrations


def run_jobs(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Run payments.run_payment_jobs() once; its report counts what each step changed."""
    with needs_migrations("the payments job"):
        row = conn.execute("select payments.run_payment_jobs()").fetchone()
    return row[0] if row else {}
