"""pytest plugin: a real local Supabase-compatible stack for tests.

Fixtures:
  kwq8_stack   session: a throwaway PostgreSQL cluster started by the same code as
               `kwq8 stack start`, on a free port, with a migrated template database.
  kwq8_db      a fresh database cloned from the template, for tests that commit or run
               parallel connections (about half a second to clone and drop).
  kwq8_tx      one transaction on a shared database, rolled back after the test. About 1 ms.
  anon, service_role  identities for requests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from pytest_postgresql.janitor import DatabaseJanitor

from kwq8.config import Project, find_project
from kwq8.db import connect
from kwq8.errors import Kwq8Error
from kwq8.pgserver import BOOTSTRAP_SUPERUSER, LOCAL_PASSWORD, free_port, state_root
from kwq8.postgrest import Identity
from kwq8.stack import Stack
from kwq8.testing.database import TestDatabase

TEMPLATE_DB = "kwq8_template"
SHARED_DB = "kwq8_shared"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kwq8")
    group.addoption(
        "--kwq8-keep",
        action="store_true",
        help="keep the test cluster after the run (for debugging)",
    )


_MISSING_EXTENSIONS: dict[str, list[str]] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "requires_extension(name): needs this PostgreSQL extension")


@pytest.fixture(autouse=True)
def _kwq8_requires_extension(request: pytest.FixtureRequest) -> None:
    """Tests marked requires_extension("x") are skipped where the server does not ship x (the
    PostgreSQL 17 build has no pg_cron, pgTAP or plpgsql_check); the summary counts them."""
    marks = list(request.node.iter_markers("requires_extension"))
    if not marks:
        return
    stack: Stack = request.getfixturevalue("kwq8_stack")
    with psycopg.connect(stack.admin_url("template1"), autocommit=True) as conn:
        available = {r[0] for r in conn.execute("select name from pg_available_extensions").fetchall()}
    for mark in marks:
        name = str(mark.args[0])
        if name not in available:
            _MISSING_EXTENSIONS.setdefault(name, []).append(request.node.nodeid)
            pytest.skip(f"PostgreSQL {stack.project.major_version} here has no {name} extension")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for name, tests in sorted(_MISSING_EXTENSIONS.items()):
        terminalreporter.write_line(f"kwq8: {len(tests)} test(s) not run for lack of the {name} extension")


@pytest.fixture(scope="session")
def kwq8_project(pytestconfig: pytest.Config) -> Project:
    return find_project(Path(str(pytestconfig.rootpath)))


# The Data API limiter and the anonymous submission caps are on in every migrated database.
# Test databases raise them out of reach, so that tests of other rules (thousands of writes by
# one user, many anonymous bookings without a forwarded address, the same booking twice) do not
# meet them; the limits' own tests put the production defaults back (`production_api_limits`).
TEST_API_LIMITS = {
    "api_user_writes_per_window": 1_000_000,
    "api_ip_writes_per_window": 1_000_000,
    "anon_bookings_per_hour": 100_000,
    "anon_messages_per_hour": 100_000,
    "anon_submissions_max_per_hour": 100_000,
    "anon_submissions_per_visitor": 100_000,
    "duplicate_window": "0",
}


def raise_api_limits(url: str) -> None:
    with connect(url, autocommit=True) as conn:
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(str(v))) for k, v in TEST_API_LIMITS.items()
        )
        conn.execute(sql.SQL("update ratelimit.settings set {}").format(assignments))


def production_api_limits(url: str) -> None:
    """Put the migrations' defaults of the limits back (for tests of the limits themselves)."""
    with connect(url, autocommit=True) as conn:
        assignments = sql.SQL(", ").join(sql.SQL("{} = default").format(sql.Identifier(k)) for k in TEST_API_LIMITS)
        conn.execute(sql.SQL("update ratelimit.settings set {}").format(assignments))


@pytest.fixture(scope="session")
def kwq8_stack(kwq8_project: Project, pytestconfig: pytest.Config) -> Iterator[Stack]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    state = state_root() / f"test-{kwq8_project.project_id}-{worker}-{uuid.uuid4().hex[:8]}"
    stack = Stack(kwq8_project, state_dir=state, port=free_port(), fast=True)
    try:
        for attempt in range(3):
            try:
                stack.start(migrate=False, seed=False)
                break
            except Kwq8Error as exc:
                # Another process may take the free port between our probe and the server's bind.
                if ("already in use" not in exc.message and "did not start" not in exc.message) or attempt == 2:
                    raise
                stack = Stack(kwq8_project, state_dir=state, port=free_port(), fast=True)
        stack.create_database(TEMPLATE_DB)
        stack.prepare_database(TEMPLATE_DB, seed=False, test_extensions=True)
        raise_api_limits(stack.url("postgres", TEMPLATE_DB))
        # Test users start with no credits, so every balance a test asserts is its own doing;
        # tests of the sign-up grant switch it back on (billing.settings.signup_grant_credits).
        with connect(stack.admin_url(TEMPLATE_DB), autocommit=True) as conn:
            conn.execute("update billing.settings set signup_grant_credits = 0")
        stack.create_database(SHARED_DB, template=TEMPLATE_DB)
        stack.configure_database(SHARED_DB, test_clock=True)
        yield stack
    finally:
        if pytestconfig.getoption("kwq8_keep"):
            print(f"\nkwq8 test cluster kept at {state} (port {stack.port})")
        else:
            stack.destroy()


class _FileCopyJanitor(DatabaseJanitor):
    """Clones with STRATEGY FILE_COPY: on a throwaway cluster (fsync off) it copies the template's
    files directly instead of writing every page through the WAL, PostgreSQL 15's default."""

    def _build_create_database_sql(self) -> sql.Composed:
        return super()._build_create_database_sql() + sql.SQL(" STRATEGY = FILE_COPY")


def _janitor(stack: Stack, name: str) -> DatabaseJanitor:
    return _FileCopyJanitor(
        user=BOOTSTRAP_SUPERUSER,
        password=LOCAL_PASSWORD,
        host="127.0.0.1",
        port=stack.port,
        dbname=name,
        template_dbname=TEMPLATE_DB,
        maintenance_dbname="template1",
    )


@pytest.fixture
def kwq8_db(kwq8_stack: Stack) -> Iterator[TestDatabase]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    janitor = _janitor(kwq8_stack, name)
    janitor.init()
    kwq8_stack.configure_database(name, test_clock=True)
    kwq8_stack.copy_role_settings(TEMPLATE_DB, name)
    db = TestDatabase(kwq8_stack.port, name, schemas=tuple(kwq8_stack.project.exposed_schemas))
    try:
        yield db
    finally:
        db.close()
        janitor.drop()


@pytest.fixture
def kwq8_tx(kwq8_stack: Stack) -> Iterator[TestDatabase]:
    probe = TestDatabase(kwq8_stack.port, SHARED_DB)
    conn = probe.connect("postgres", autocommit=True)
    try:
        with conn.transaction(force_rollback=True):
            db = TestDatabase(
                kwq8_stack.port,
                SHARED_DB,
                schemas=tuple(kwq8_stack.project.exposed_schemas),
                nested_conn=conn,
            )
            yield db
    finally:
        probe.close()


@pytest.fixture
def anon() -> Identity:
    return Identity.anon()


@pytest.fixture
def service_role() -> Identity:
    return Identity.service_role()
