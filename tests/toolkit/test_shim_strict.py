"""The local shim is as strict as hosted Supabase where a change could pass locally and fail on
deploy: ownership of Auth's and Storage's tables, Storage's protect-delete triggers, Auth's
tables and defaults, the platform's roles, and what the application database does (not) hold.
Supabase's own CLI lints and inspects the migrated database."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from kwq8 import bodycheck, migrations
from kwq8.db import Target, connect
from kwq8.stack import Stack

from ..conftest import ROOT, ScratchProject, run_cli

# Also run on PostgreSQL 17 in CI (scripts/test).
pytestmark = pytest.mark.pg17

SUPABASE_CLI = ROOT / "node_modules" / ".bin" / "supabase"


def _scalar(target: Target, query: str, params: Any = None) -> Any:
    with connect(target.url) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


def test_postgres_owns_nothing_of_auth_and_storage_and_the_platform_roles_exist(blank_db: Target) -> None:
    for owner in ("supabase_storage_admin", "supabase_auth_admin"):
        assert _scalar(blank_db, "select pg_has_role('postgres', %s, 'member')", (owner,)) is False
    roles = ("dashboard_user", "pgbouncer", "supabase_read_only_user", "supabase_replication_admin")
    assert _scalar(blank_db, "select count(*) from pg_roles where rolname = any(%s)", (list(roles),)) == len(roles)
    assert _scalar(blank_db, "select rolreplication from pg_roles where rolname = 'supabase_replication_admin'")


@pytest.mark.parametrize(
    "statement",
    [
        "alter table storage.objects add column note text;",
        # Creating a trigger needs only the TRIGGER privilege, which `postgres` has on auth.users (the
        # documented on_auth_user_created pattern); dropping Storage's own trigger needs ownership.
        "drop trigger protect_objects_delete on storage.objects;",
        "alter table auth.users enable row level security;",
        "create index objects_note_idx on storage.objects (name);",
    ],
)
def test_an_owner_only_change_to_auth_or_storage_fails_the_migration_as_on_supabase(
    scratch: ScratchProject, blank_db: Target, statement: str
) -> None:
    scratch.revision(1, "hook", "create table public.notes (id bigint);\n" + statement + "\n")
    result = run_cli("db", "migrate", "--db-url", blank_db.url, cwd=scratch.root)
    assert result.code == 1 and "42501: must be owner of" in result.stderr, result.stderr
    assert "sql/0001_hook.sql:2:" in result.stderr
    assert _scalar(blank_db, "select to_regclass('public.notes')") is None


def test_policies_on_storage_tables_still_work_as_supautils_allows(
    scratch: ScratchProject, blank_db: Target, kwq8_stack: Stack
) -> None:
    scratch.revision(
        1,
        "assets",
        "-- who may read\n"
        "create policy assets_read on storage.objects for select to authenticated using (bucket_id = 'assets');\n"
        'alter policy assets_read on "storage"."objects" using (bucket_id = \'assets\' and owner = auth.uid());\n',
        down="drop policy assets_read on storage.objects;\n",
    )
    assert run_cli("db", "migrate", "--db-url", blank_db.url, cwd=scratch.root).code == 0
    qual = "select qual from pg_policies where schemaname = 'storage' and policyname = 'assets_read'"
    assert "auth.uid()" in _scalar(blank_db, qual)
    assert run_cli("db", "downgrade", "base", "--db-url", blank_db.url, cwd=scratch.root).code == 0
    assert _scalar(blank_db, qual) is None
    # Straight from psql (as supabase db push sends them): policy statements on those two tables,
    # and nothing else, not even a policy on another storage table; the lent owner never sticks.
    with connect(blank_db.url, autocommit=True) as conn:
        conn.execute("create policy p on storage.buckets for select to anon using (public)")
        conn.execute("drop policy p on storage.buckets")
        for statement in (
            "alter table storage.objects add column x int",
            "create index on storage.objects (owner)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner"):
                conn.execute(statement)
        member = "select pg_has_role('postgres', 'supabase_storage_admin', 'member')"
        assert conn.execute(member).fetchone() == (False,)
    # Storage's other tables (its migrations, S3 uploads) take no policies from `postgres`.
    dbname = blank_db.url.rsplit("/", 1)[1].split("?")[0]
    with connect(kwq8_stack.url("supabase_admin", dbname), autocommit=True) as admin:
        admin.execute("create table storage.s3_uploads (id text)")
        admin.execute("alter table storage.s3_uploads owner to supabase_storage_admin")
        admin.execute("create policy kept on storage.s3_uploads using (true)")
    with connect(blank_db.url, autocommit=True) as conn:
        for statement in (
            "create policy p on storage.s3_uploads using (true)",
            "alter policy kept on storage.s3_uploads using (false)",
            "drop policy kept on storage.s3_uploads",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="other than objects and buckets"):
                conn.execute(statement)
        assert conn.execute(member).fetchone() == (False,)
        assert conn.execute("select count(*) from pg_policies where tablename = 's3_uploads'").fetchone() == (1,)


def test_direct_deletes_from_storage_are_refused_as_by_supabase_storage(blank_db: Target) -> None:
    with connect(blank_db.url) as conn:
        conn.execute("insert into storage.buckets (id, name) values ('b', 'b')")
        conn.execute("insert into storage.objects (bucket_id, name) values ('b', 'x/1.png')")
        conn.commit()
        for table in ("storage.objects", "storage.buckets"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="Direct deletion from storage tables"):
                conn.execute(f"delete from {table}")
            conn.rollback()
        conn.execute("select set_config('storage.allow_delete_query', 'true', true)")
        assert conn.execute("delete from storage.objects").rowcount == 1


def test_auth_tables_are_those_of_supabase_auth(blank_db: Target) -> None:
    with connect(blank_db.url) as conn:
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute("insert into auth.users (email) values ('no-id@example.kw')")
        conn.rollback()
        uid = str(uuid.uuid4())
        conn.execute("insert into auth.users (id, email) values (%s, 'a@example.kw')", (uid,))
        conn.execute(
            "insert into auth.identities (provider_id, user_id, identity_data, provider) "
            "values (%s, %s, '{\"email\": \"A@Example.kw\"}', 'email')",
            (uid, uid),
        )
        session = conn.execute(
            "insert into auth.sessions (id, user_id, aal) values (gen_random_uuid(), %s, 'aal1') returning id", (uid,)
        ).fetchone()
        assert session is not None
        conn.execute(
            "insert into auth.refresh_tokens (token, user_id, session_id) values ('t', %s, %s)", (uid, session[0])
        )
        row = conn.execute("select email from auth.identities where user_id = %s", (uid,)).fetchone()
        assert row == ("a@example.kw",)
        conn.execute("delete from auth.users where id = %s", (uid,))
        assert conn.execute("select count(*) from auth.refresh_tokens").fetchone() == (0,)
        owners = conn.execute("select distinct tableowner from pg_tables where schemaname = 'auth'").fetchall()
        assert owners == [("supabase_auth_admin",)]


def test_the_application_database_holds_only_what_a_hosted_project_has(kwq8_stack: Stack, blank_db: Target) -> None:
    for target in (kwq8_stack.target(), blank_db):  # the stack's own database, and a fresh one
        with connect(target.url) as conn:
            rows = dict(conn.execute("select extname, extnamespace::regnamespace::text from pg_extension").fetchall())
        assert {"pgcrypto", "uuid-ossp", "pg_stat_statements"} <= set(rows)
        assert rows["pg_stat_statements"] == "extensions"
        assert "pgtap" not in rows and "plpgsql_check" not in rows, rows


@pytest.fixture(scope="module")
def migrated_app_db(kwq8_stack: Stack) -> Iterator[Target]:
    """The project migrated into a shimmed database without the test-only extensions."""
    name = f"app_{uuid.uuid4().hex[:8]}"
    kwq8_stack.create_database(name)
    kwq8_stack.install_shim(name)
    target = kwq8_stack.target(name)
    migrations.migrate(kwq8_stack.project, target)
    yield target
    kwq8_stack.drop_database(name)


def _supabase(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SUPABASE_CLI), *args], capture_output=True, text=True, timeout=300, cwd=ROOT, env=_cli_env()
    )


def _cli_env() -> dict[str, str]:
    import os

    return {**os.environ, "SUPABASE_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1"}


def test_migrating_lends_plpgsql_check_and_keeps_nothing(migrated_app_db: Target) -> None:
    assert _scalar(migrated_app_db, "select count(*) from pg_extension where extname = 'plpgsql_check'") == 0


@pytest.mark.requires_extension("plpgsql_check")
def test_supabase_cli_lint_finds_no_errors(migrated_app_db: Target) -> None:
    # `db lint` runs `create extension if not exists plpgsql_check` as postgres in a transaction it
    # rolls back: on Supabase supautils allows that; here the stack lends the extension meanwhile.
    url = migrated_app_db.url + "?sslmode=disable"
    with bodycheck.lent(migrated_app_db):
        result = _supabase(
            "db", "lint", "--db-url", url, "--level", "warning", "--fail-on", "error", "--output-format", "json"
        )
    assert result.returncode == 0, result.stdout + result.stderr
    findings = json.loads(result.stdout)["results"]
    errors = [f for f in findings if any(i["level"] == "error" for i in f["issues"])]
    assert errors == [], errors


def test_supabase_cli_inspect_runs_clean(migrated_app_db: Target) -> None:
    url = migrated_app_db.url + "?sslmode=disable"
    for sub in ("db-stats", "outliers", "calls", "index-stats", "table-stats", "role-stats", "bloat", "locks"):
        result = _supabase("inspect", "db", sub, "--db-url", url)
        assert result.returncode == 0 and "error" not in result.stderr.lower(), (sub, result.stdout, result.stderr)


def test_audit_runs_the_pinned_supabase_cli_advisors_with_nothing_above_info(migrated_app_db: Target) -> None:
    result = run_cli("db", "audit", "--json", "--db-url", migrated_app_db.url)
    assert result.code == 0, result.stderr
    findings = json.loads(result.stdout)
    assert findings and {f["level"] for f in findings} == {"INFO"}, findings
    # The CLI's own findings are there (splinter's lint names, its docs links).
    assert any(f["docs_url"].startswith("https://supabase.com/docs/guides/database/database-linter") for f in findings)
    assert "supabase db advisors" in result.stderr
