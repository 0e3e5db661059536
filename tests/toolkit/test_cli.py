"""The `kwq8` command as operators run it: exit codes, one-line errors, stdout vs stderr."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kwq8.db import Target
from kwq8.pgserver import free_port, state_root
from kwq8.stack import Stack

from ..conftest import ScratchProject, run_cli


@pytest.fixture
def cli_state() -> Iterator[dict[str, str]]:
    root = state_root() / f"clitest-{uuid.uuid4().hex[:8]}"
    env = {"KWQ8_STATE_DIR": str(root)}
    yield env
    run_cli("stack", "stop", env=env)
    shutil.rmtree(root, ignore_errors=True)


def test_stack_lifecycle(cli_state: dict[str, str], kwq8_stack: Stack) -> None:
    port = str(free_port())
    start = run_cli("stack", "start", "--port", port, env=cli_state)
    assert start.code == 0, start.stderr
    assert start.stdout.strip() == f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
    assert "ready" in start.stderr and "anon key" in start.stderr and "Traceback" not in start.stderr

    again = run_cli("stack", "start", "--json", env=cli_state)
    assert again.code == 0
    info = json.loads(again.stdout)
    assert info["already_running"] is True and info["running"] is True and info["port"] == int(port)
    assert info["revision"] == info["revision"] and info["pending_revisions"] == []
    assert set(info["api_keys"]) == {"anon", "service_role"}

    assert run_cli("db", "status", env=cli_state).code == 0
    migrate = run_cli("db", "migrate", env=cli_state)
    assert migrate.code == 0 and "up to date" in migrate.stderr
    history = json.loads(run_cli("db", "history", "--json", env=cli_state).stdout)
    assert history and history[0]["name"] == "0001"

    # Another stack wanting the same port gets a clear error.
    other = {"KWQ8_STATE_DIR": cli_state["KWQ8_STATE_DIR"] + "-other"}
    clash = run_cli("stack", "start", "--port", port, env=other)
    shutil.rmtree(other["KWQ8_STATE_DIR"], ignore_errors=True)
    assert clash.code == 2 and f"port {port}" in clash.stderr and "--port" in clash.stderr
    assert "Traceback" not in clash.stderr

    reset = run_cli("stack", "reset", env=cli_state)
    assert reset.code == 0, reset.stderr
    assert "recreating database postgres" in reset.stderr

    assert run_cli("stack", "stop", env=cli_state).code == 0
    status = run_cli("stack", "status", env=cli_state)
    assert status.code == 1 and "stopped" in status.stdout
    not_running = run_cli("db", "status", env=cli_state)
    assert not_running.code == 2 and "not running" in not_running.stderr and "kwq8 stack start" in not_running.stderr


def test_unreachable_database_is_one_line_and_exit_2() -> None:
    result = run_cli("db", "status", "--db-url", f"postgresql://postgres:pw@127.0.0.1:{free_port()}/nowhere")
    assert result.code == 2
    assert "cannot connect to PostgreSQL at 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_changing_a_remote_database_needs_confirmation() -> None:
    # `.invalid` never resolves: the refusal must come before any connection attempt.
    result = run_cli("db", "migrate", "--db-url", "postgresql://postgres:pw@db.staging.invalid:5432/postgres")
    assert result.code == 1
    assert "db.staging.invalid" in result.stderr and "--yes" in result.stderr
    assert "cannot connect" not in result.stderr


def test_missing_postgres_binaries_say_how_to_install(scratch: ScratchProject, tmp_path: Path) -> None:
    config = scratch.root / "supabase" / "config.toml"
    state = state_root() / f"nopg-{uuid.uuid4().hex[:6]}"
    env = {"PATH": "/usr/bin:/bin", "KWQ8_STATE_DIR": str(state)}
    if not Path("/usr/lib/postgresql/17/bin/pg_ctl").exists():  # 17 comes from npm, into the checkout
        config.write_text(config.read_text().replace("major_version = 15", "major_version = 17"))
        result = run_cli("stack", "start", cwd=scratch.root, env=env)
        assert not list(state.glob("*/data"))
        assert result.code == 2 and "PostgreSQL 17 server binaries" in result.stderr, result.stderr
        assert "KWQ8_PG_MAJORS=17 scripts/install" in result.stderr and "Traceback" not in result.stderr
    config.write_text(re.sub(r"major_version = \d+", "major_version = 16", config.read_text()))
    unsupported = run_cli("stack", "start", cwd=scratch.root, env=env)
    shutil.rmtree(state, ignore_errors=True)
    assert unsupported.code == 2 and "major version '16' is not supported" in unsupported.stderr
    assert "15 or 17" in unsupported.stderr and "Traceback" not in unsupported.stderr


def test_status_is_a_deploy_gate_and_plan_prints_sql(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "notes", "create table public.notes (id bigint primary key);\n")
    url = blank_db.url
    pending = run_cli("db", "status", "--db-url", url, cwd=scratch.root)
    assert pending.code == 1 and "pending  0001 notes" in pending.stderr
    as_json = json.loads(run_cli("db", "status", "--json", "--db-url", url, cwd=scratch.root).stdout)
    assert as_json["pending"][0]["revision"] == "0001" and as_json["up_to_date"] is False
    plan = run_cli("db", "plan", "--db-url", url, cwd=scratch.root)
    assert plan.code == 0 and "create table public.notes" in plan.stdout
    assert run_cli("db", "migrate", "--db-url", url, cwd=scratch.root).code == 0
    assert run_cli("db", "status", "--db-url", url, cwd=scratch.root).code == 0


def test_failed_migration_prints_file_line_and_error(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "bad", "select 1;\nselect * from missing_table;\n")
    result = run_cli("db", "migrate", "--db-url", blank_db.url, cwd=scratch.root)
    assert result.code == 1
    assert 'sql/0001_bad.sql:2: 42P01: relation "missing_table" does not exist' in result.stderr
    assert "Traceback" not in result.stderr


def test_new_creates_revision_files(scratch: ScratchProject) -> None:
    result = run_cli("db", "new", "add bookings", "--down", cwd=scratch.root)
    assert result.code == 0
    assert result.stdout.split() == [
        "migrations/versions/0001_add_bookings.py",
        "sql/0001_add_bookings.sql",
        "sql/0001_add_bookings.down.sql",
    ]


def test_outside_a_project_is_a_clear_error(tmp_path: Path) -> None:
    result = run_cli("db", "status", cwd=tmp_path)
    assert result.code == 1 and "no supabase/config.toml found" in result.stderr


def test_migrating_a_database_without_supabase_roles_is_refused(kwq8_stack: Stack) -> None:
    kwq8_stack.create_database("plain_cli")
    try:
        result = run_cli("db", "migrate", "--db-url", kwq8_stack.url("postgres", "plain_cli"))
        assert result.code == 2 and "has no Supabase roles or auth schema" in result.stderr
        assert "Traceback" not in result.stderr
        assert run_cli("db", "status", "--db-url", kwq8_stack.url("postgres", "plain_cli")).code == 1
    finally:
        kwq8_stack.drop_database("plain_cli")
