"""The controllable clock: frozen in test databases only, never by clients."""

from __future__ import annotations

import datetime as dt

from kwq8.stack import Stack
from kwq8.testing.database import TestDatabase


def test_frozen_clock_in_requests_and_sql(kwq8_db: TestDatabase) -> None:
    user = kwq8_db.create_user()
    kwq8_db.freeze_time("2026-03-01T20:59:59+00:00")
    expected = dt.datetime(2026, 3, 1, 20, 59, 59, tzinfo=dt.UTC)
    assert kwq8_db.query_as(user, "select billing.clock()")[0][0] == expected
    assert kwq8_db.scalar("select billing.clock()") == expected
    kwq8_db.freeze_time(None)
    assert kwq8_db.query_as(user, "select billing.clock() > '2026-06-01'")[0][0]


def test_frozen_clock_is_ignored_without_the_override(kwq8_stack: Stack) -> None:
    # The main database of a stack (and any real one) has no kwq8.clock_override.
    from kwq8.db import connect

    with connect(kwq8_stack.url("postgres", "kwq8_template")) as conn:
        conn.execute("select set_config('kwq8.frozen_now', '2000-01-01', false)")
        clock = conn.execute("select billing.clock()").fetchone()
    assert clock and clock[0].year >= 2026
