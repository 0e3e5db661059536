"""The controllable clock: frozen in test databases only, never by clients."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid

import psycopg
import pytest

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
    # The template (like the main database of a stack, and any real one) has no marker.
    from kwq8.db import connect

    with connect(kwq8_stack.url("postgres", "kwq8_template")) as conn:
        conn.execute("select set_config('kwq8.frozen_now', '2000-01-01', false)")
        clock = conn.execute("select billing.clock()").fetchone()
    assert clock and clock[0].year >= 2026


def test_no_role_can_move_the_clock_of_an_application_database(kwq8_stack: Stack) -> None:
    """authenticated, service_role and postgres try every knob on a migrated database the test
    harness did not mark: the clock stays the real one."""
    from kwq8.db import connect
    from kwq8.postgrest import Api, Identity
    from kwq8.testing.plugin import TEMPLATE_DB

    name = f"app_{uuid.uuid4().hex[:10]}"
    kwq8_stack.create_database(name, template=TEMPLATE_DB)
    attempts = 0
    try:
        api = Api(connect(kwq8_stack.url("authenticator", name), autocommit=True))
        api.settings.update({"kwq8.frozen_now": PAST, "kwq8.clock_override": "on"})
        user = Identity.user(str(uuid.uuid4()))
        for who in (user, Identity.service_role()):
            with api.request(who) as cur:
                attempts += 1
                assert _real(cur.execute("select billing.clock()").fetchone())
                cur.execute("select set_config('kwq8.frozen_now', %s, true)", (PAST,))
                attempts += 1
                assert _real(cur.execute("select billing.clock()").fetchone())
        with connect(kwq8_stack.url("postgres", name), autocommit=True) as conn:
            conn.execute("set kwq8.clock_override = 'on'")
            conn.execute("select set_config('kwq8.frozen_now', %s, false)", (PAST,))
            attempts += 1
            assert _real(conn.execute("select billing.clock()").fetchone())
            # postgres may create the marker's name, but not as a superuser's table.
            conn.execute("create schema kwq8_test")
            conn.execute("create table kwq8_test.clock ()")
            attempts += 1
            assert _real(conn.execute("select billing.clock()").fetchone())
            # Supabase's postgres owns its database; here it does not, and a default for the
            # database's sessions moves nothing either way.
            with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"alter database {name} set kwq8.frozen_now = '{PAST}'")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("alter table kwq8_test.clock owner to supabase_admin")
        with connect(kwq8_stack.url("postgres", name), autocommit=True) as conn:
            attempts += 1
            assert _real(conn.execute("select billing.clock()").fetchone())
        print(f"\n[clock override] {attempts} attempts, all refused")
    finally:
        kwq8_stack.drop_database(name)


PAST = "2000-01-01T00:00:00+00:00"


def _real(row: tuple[dt.datetime] | None) -> bool:
    return row is not None and abs((row[0] - dt.datetime.now(dt.UTC)).total_seconds()) < 600
