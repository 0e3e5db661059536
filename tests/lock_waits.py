"""Explicit waits for concurrency tests: instead of sleeping and hoping another session got as far
as a lock, wait until pg_locks shows it waiting."""

from __future__ import annotations

import time

from kwq8.testing.database import TestDatabase


def wait_for_lock_waiters(
    db: TestDatabase, count: int = 1, *, locktype: str | None = None, timeout_s: float = 10
) -> int:
    """Wait until at least ``count`` lock requests in this test database are not granted (of
    ``locktype`` when given: 'advisory', 'transactionid', 'tuple', ...); return how many."""
    deadline = time.monotonic() + timeout_s
    while True:
        waiting = int(
            db.scalar(
                "select count(*) from pg_locks where not granted"
                " and (%(type)s::text is null or locktype = %(type)s)"
                " and (database is null"
                " or database = (select oid from pg_database where datname = current_database()))",
                {"type": locktype},
            )
        )
        if waiting >= count:
            return waiting
        if time.monotonic() > deadline:
            raise AssertionError(f"no {count} lock waiter(s) after {timeout_s}s (found {waiting})")
        time.sleep(0.01)
