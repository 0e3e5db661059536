"""Extensions as on Supabase: `postgres` is no superuser, yet creates the extensions supautils
lists as privileged (pg_cron among them), and nothing else that needs a superuser. pg_cron comes
from the project's own migration, in the cron database only, never from the shim."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from kwq8.db import Target, connect
from kwq8.sqlfile import split_statements
from kwq8.stack import Stack
from kwq8.testing.database import TestDatabase

from ..conftest import ROOT

# Also run on PostgreSQL 17 in CI (scripts/test), whose build here has no pg_cron.
pytestmark = pytest.mark.pg17


def migration_file(suffix: str) -> Path:
    (path,) = sorted((ROOT / "sql").glob(f"*_pg_cron{suffix}"))
    return path


def postgres_is_superuser(conn: psycopg.Connection) -> bool:
    row = conn.execute("select rolsuper from pg_roles where rolname = 'postgres'").fetchone()
    assert row is not None
    return bool(row[0])


def extension_owner(conn: psycopg.Connection, name: str) -> str | None:
    row = conn.execute("select extowner::regrole::text from pg_extension where extname = %s", (name,)).fetchone()
    return None if row is None else str(row[0])


@pytest.fixture
def cron_db(kwq8_stack: Stack) -> Iterator[psycopg.Connection]:
    """The stack's `postgres` database (cron.database_name) as `postgres`, left without pg_cron."""
    with connect(kwq8_stack.url("postgres", "postgres"), autocommit=True) as conn:
        assert extension_owner(conn, "pg_cron") is None, "the shim must not create pg_cron"
        yield conn
        conn.execute(migration_file(".down.sql").read_text())
        assert extension_owner(conn, "pg_cron") is None


def test_the_migration_creates_pg_cron_and_schedules_the_payments_job(cron_db: psycopg.Connection) -> None:
    notices: list[str] = []
    cron_db.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    cron_db.execute(migration_file(".sql").read_text())
    available = cron_db.execute("select count(*) from pg_available_extensions where name = 'pg_cron'").fetchone()
    assert not postgres_is_superuser(cron_db)
    if not available or not available[0]:
        assert extension_owner(cron_db, "pg_cron") is None
        assert any("pg_cron is not installed" in n for n in notices), notices
        return
    # Created by `postgres` through the privileged-extensions rule, owned as supautils leaves it.
    assert extension_owner(cron_db, "pg_cron") == "supabase_admin"
    jobs = cron_db.execute(
        "select schedule, command, username, active from cron.job where jobname = 'kwq8-payments-jobs'"
    ).fetchall()
    assert jobs == [("*/5 * * * *", "select payments.run_jobs()", "postgres", True)]
    # What Supabase's after-create script grants: postgres reads the runs and cannot forge jobs.
    cron_db.execute("select count(*) from cron.job_run_details")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        cron_db.execute("update cron.job set command = 'select 1'")
    # Applying it again changes nothing.
    cron_db.execute(migration_file(".sql").read_text())
    assert cron_db.execute("select count(*) from cron.job").fetchone() == (1,)


def job_statements(name: str) -> str:
    """The statements of a later revision's file that reschedule the payments job."""
    text = (ROOT / "sql" / name).read_text()
    return ";\n".join(s for _, s in split_statements(text) if "kwq8-payments-jobs" in s) + ";"


def test_the_job_follows_the_renamed_payments_job_function(cron_db: psycopg.Connection) -> None:
    cron_db.execute(migration_file(".sql").read_text())
    if cron_db.execute("select count(*) from pg_extension where extname = 'pg_cron'").fetchone() == (0,):
        pytest.skip("pg_cron is not installed on this server")

    def job() -> list[tuple[str, str, str, bool]]:
        return cron_db.execute(
            "select schedule, command, username, active from cron.job where jobname = 'kwq8-payments-jobs'"
        ).fetchall()

    # 0018 renames payments.run_jobs to payments.run_payment_jobs; its down file renames it back.
    cron_db.execute(job_statements("0018_ratelimit_schema.sql"))
    assert job() == [("*/5 * * * *", "select payments.run_payment_jobs()", "postgres", True)]
    cron_db.execute(job_statements("0018_ratelimit_schema.sql"))
    assert job() == [("*/5 * * * *", "select payments.run_payment_jobs()", "postgres", True)]
    cron_db.execute(job_statements("0018_ratelimit_schema.down.sql"))
    assert job() == [("*/5 * * * *", "select payments.run_jobs()", "postgres", True)]


def test_an_application_database_gets_no_pg_cron(kwq8_tx: TestDatabase) -> None:
    # Migrated to head like every test database: pg_cron runs in the cron database only.
    assert kwq8_tx.scalar("select count(*) from pg_extension where extname = 'pg_cron'") == 0
    assert kwq8_tx.scalar("select count(*) from pg_namespace where nspname = 'cron'") == 0


def test_postgres_creates_a_privileged_extension_without_being_a_superuser(blank_db: Target) -> None:
    with connect(blank_db.url, autocommit=True) as conn:
        assert not postgres_is_superuser(conn)
        # pgrowlocks needs a superuser and is on supautils' list.
        conn.execute("create extension pgrowlocks with schema extensions")
        assert extension_owner(conn, "pgrowlocks") == "supabase_admin"
        assert not postgres_is_superuser(conn)
        # ... and keeps the use of what it created.
        conn.execute("create table t (id int primary key)")
        assert conn.execute("select count(*) from extensions.pgrowlocks('t')").fetchone() == (0,)
        conn.execute("drop extension pgrowlocks")
        assert extension_owner(conn, "pgrowlocks") is None
        assert not postgres_is_superuser(conn)


def test_an_extension_off_the_list_is_refused_as_on_supabase(blank_db: Target) -> None:
    with connect(blank_db.url, autocommit=True) as conn:
        # file_fdw reads the server's files: superuser only, and not on supautils' list.
        with pytest.raises(
            psycopg.errors.InsufficientPrivilege, match='permission denied to create extension "file_fdw"'
        ):
            conn.execute("create extension file_fdw")
        assert extension_owner(conn, "file_fdw") is None
        assert not postgres_is_superuser(conn)


def test_the_loan_never_outlives_its_statement(blank_db: Target) -> None:
    with connect(blank_db.url) as conn:
        # Inside one transaction: gone as soon as the statement ends, before any commit.
        conn.execute("create extension pgrowlocks with schema extensions")
        assert not postgres_is_superuser(conn)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create role intruder superuser")
        conn.rollback()
        # A failing extension statement takes the loan back with itself.
        with pytest.raises(psycopg.errors.InvalidSchemaName):
            conn.execute("create extension pgrowlocks with schema no_such_schema")
        conn.rollback()
        assert not postgres_is_superuser(conn)
        assert extension_owner(conn, "pgrowlocks") is None
