"""Operator paths a new user meets first: bad URLs, downgrades, drift, second clones, tokens."""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import jwt
import pytest

from kwq8 import migrations
from kwq8.cli import main
from kwq8.config import Project
from kwq8.db import Target, connect
from kwq8.keys import local_api_keys
from kwq8.migrations import MigrationFailed, execute_file
from kwq8.pgserver import accepts_connections, free_port, pkglibdir, port_is_free, state_root
from kwq8.postgrest import Identity
from kwq8.stack import Stack
from kwq8.testing.database import TestDatabase

from ..conftest import ROOT, CliResult, ScratchProject, run_cli

SECRET = "s3cret-Pa55"
# Every command that takes --db-url, with what it needs to reach the connection.
DB_COMMANDS = [
    ("db", "status"),
    ("db", "plan"),
    ("db", "history"),
    ("db", "migrate", "--yes"),
    ("db", "downgrade", "base", "--yes"),
    ("db", "lint"),
    ("db", "audit"),
    ("db", "policies"),
    ("ledger", "audit"),
    ("payments", "audit"),
    ("jobs", "run", "--yes"),
]


def _bad_urls(stack_port: int) -> list[tuple[str, str]]:
    return [
        ("http://127.0.0.1:54321/rest/v1", "scheme http://"),
        ("/var/lib/postgresql/data", "file path"),
        ("postgresql:/" + "/postgres:" + SECRET + "@127.0.0.1:notaport/postgres", "not a valid PostgreSQL URL"),
        (f"postgresql://postgres:{SECRET}@no-such-host.invalid:5432/postgres", "unknown host"),
        (f"postgresql://postgres:{SECRET}@127.0.0.1:{free_port()}/postgres", "host unreachable"),
        (f"postgresql://postgres:{SECRET}@127.0.0.1:{stack_port}/postgres", "authentication failed"),
        (f"postgresql://postgres:postgres@127.0.0.1:{stack_port}/no_such_db", "database missing"),
    ]


def run_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """The CLI's own entry point in this process: for matrices where a process per call costs seconds."""
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


@pytest.mark.parametrize("command", DB_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_bad_db_url_is_one_line_exit_2_without_the_password(
    command: tuple[str, ...], kwq8_stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KWQ8_DB_URL", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "300")
    for url, problem in _bad_urls(kwq8_stack.port):
        result = run_in_process(capsys, *command, "--db-url", url)
        assert result.code == 2, (url, result.stderr)
        assert "Traceback" not in result.stderr, (url, result.stderr)
        assert problem in result.stderr, (url, result.stderr)
        assert SECRET not in result.stderr + result.stdout
        assert result.stderr.count("error:") == 1


def test_a_bad_db_url_from_the_environment_is_one_line_too() -> None:
    result = run_cli("db", "status", env={"KWQ8_DB_URL": "https://abc.supabase.co"})
    assert result.code == 2 and "scheme https://" in result.stderr and "Traceback" not in result.stderr


def test_downgrade_takes_steps_and_revisions_as_alembic_users_type_them(
    scratch: ScratchProject, blank_db: Target
) -> None:
    for n in range(1, 6):
        scratch.revision(n, f"t{n}", f"create table public.t{n} (id bigint);\n", down=f"drop table public.t{n};\n")
    url = ("--db-url", blank_db.url)
    assert run_cli("db", "migrate", *url, cwd=scratch.root).code == 0

    def current() -> str:
        return json.loads(run_cli("db", "status", "--json", *url, cwd=scratch.root).stdout)["current"]

    one = run_cli("db", "downgrade", "-1", *url, cwd=scratch.root)
    assert one.code == 0 and "undid 0005" in one.stderr, one.stderr
    assert current() == "0004"
    assert run_cli("db", "downgrade", *url, "-1", cwd=scratch.root).code == 0  # option first, then steps
    assert current() == "0003"
    assert run_cli("db", "downgrade", "0002_t2", *url, cwd=scratch.root).code == 0  # a file stem
    assert current() == "0002"
    assert run_cli("db", "migrate", *url, cwd=scratch.root).code == 0
    assert run_cli("db", "downgrade", "head-2", *url, cwd=scratch.root).code == 0
    assert current() == "0003"
    assert run_cli("db", "downgrade", "0003-1", *url, cwd=scratch.root).code == 0
    assert current() == "0002"
    for bad, message in (("-7", "cannot go back 7"), ("0004", "not applied"), ("nope", "unknown revision 'nope'")):
        result = run_cli("db", "downgrade", bad, *url, cwd=scratch.root)
        assert result.code == 1 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert current() == "0002"
    assert run_cli("db", "downgrade", "base", *url, cwd=scratch.root).code == 0
    assert current() is None


def test_an_applied_file_edited_afterwards_is_drift_in_status_plan_and_check(
    scratch: ScratchProject, blank_db: Target
) -> None:
    scratch.revision(1, "notes", "create table public.notes (id bigint);\n")
    scratch.revision(2, "tags", "create table public.tags (id bigint);\n")
    url = ("--db-url", blank_db.url)
    assert run_cli("db", "migrate", *url, cwd=scratch.root).code == 0
    assert run_cli("db", "status", "--check", *url, cwd=scratch.root).code == 0

    scratch.write("sql/0001_notes.sql", "create table public.notes (id bigint, body text);\n")
    status = run_cli("db", "status", *url, cwd=scratch.root)
    assert status.code == 1 and "sql/0001_notes.sql (revision 0001) was edited after it was applied" in status.stderr
    assert "up to date" not in status.stderr
    as_json = json.loads(run_cli("db", "status", "--json", *url, cwd=scratch.root).stdout)
    [drift] = as_json["drift"]
    assert drift["file"] == "sql/0001_notes.sql" and drift["applied_sha256"] != drift["file_sha256"]
    assert as_json["up_to_date"] is False
    assert run_cli("db", "status", "--check", *url, cwd=scratch.root).code == 1
    plan = run_cli("db", "plan", *url, cwd=scratch.root)
    assert plan.code == 0 and "-- DRIFT: sql/0001_notes.sql" in plan.stdout
    migrate = run_cli("db", "migrate", *url, cwd=scratch.root)
    assert migrate.code == 0 and "was edited after it was applied" in migrate.stderr

    # Pending work alone fails the deploy gate but not --check; restoring the file ends the drift.
    scratch.write("sql/0001_notes.sql", "create table public.notes (id bigint);\n")
    scratch.revision(3, "more", "create table public.more (id bigint);\n")
    assert run_cli("db", "status", *url, cwd=scratch.root).code == 1
    assert run_cli("db", "status", "--check", *url, cwd=scratch.root).code == 0
    (scratch.root / "sql" / "0002_tags.sql").unlink()
    gone = run_cli("db", "status", "--check", *url, cwd=scratch.root)
    assert gone.code == 1 and "sql/0002_tags.sql (revision 0002) was applied but is missing" in gone.stderr


@pytest.mark.requires_extension("plpgsql_check")
def test_migrate_rolls_back_a_function_body_naming_a_missing_column(
    scratch: ScratchProject, blank_db: Target, kwq8_stack: Stack
) -> None:
    scratch.revision(1, "notes", "create table public.notes (id bigint primary key, body text);\n")
    broken = (
        "create or replace function public.note_length(p_id bigint) returns int\n"
        "language plpgsql\n"
        "as $$\n"
        "begin\n"
        "    return (select length(bdoy) from public.notes where id = p_id);\n"
        "end\n"
        "$$;\n"
    )
    scratch.write("functions/notes/note_length.sql", broken)
    # A database that has plpgsql_check (a hosted project can create it): migrate uses it.
    kwq8_stack.install_test_extensions(blank_db.dbname)
    url = ("--db-url", blank_db.url)
    result = run_cli("db", "migrate", *url, cwd=scratch.root)
    assert result.code == 1, result.stderr
    assert 'functions/notes/note_length.sql:5: 42703: column "bdoy" does not exist' in result.stderr
    assert "rolled back" in result.stderr and "Traceback" not in result.stderr
    status = json.loads(run_cli("db", "status", "--json", *url, cwd=scratch.root).stdout)
    assert status["current"] is None and status["pending"][0]["revision"] == "0001"

    # The local stack's own databases do not keep plpgsql_check: it is lent for the migration.
    with connect(kwq8_stack.admin_url(blank_db.dbname), autocommit=True) as admin:
        admin.execute("drop extension plpgsql_check")
    local = kwq8_stack.target(blank_db.dbname)
    with pytest.raises(MigrationFailed, match=r'note_length\.sql:5: 42703: column "bdoy" does not exist'):
        migrations.migrate(scratch.project, local)
    scratch.write("functions/notes/note_length.sql", broken.replace("bdoy", "body"))
    assert migrations.migrate(scratch.project, local).applied == ["0001"]
    with connect(blank_db.url) as conn:
        assert conn.execute("select count(*) from pg_extension where extname = 'plpgsql_check'").fetchone() == (0,)


@pytest.fixture
def clone_state() -> Iterator[dict[str, str]]:
    root = state_root() / f"clones-{uuid.uuid4().hex[:8]}"
    yield {"KWQ8_STATE_DIR": str(root)}
    shutil.rmtree(root, ignore_errors=True)


def test_two_clones_run_their_own_stacks_and_start_always_brings_the_database_to_head(
    scratch: ScratchProject, clone_state: dict[str, str]
) -> None:
    scratch.revision(1, "notes", "create table public.notes (id bigint);\n")
    clone = scratch.root.parent / "second-clone"
    shutil.copytree(scratch.root, clone)
    a, b = str(free_port()), str(free_port())
    try:
        first = run_cli("stack", "start", "--port", a, "--json", cwd=scratch.root, env=clone_state)
        assert first.code == 0, first.stderr
        assert run_cli("stack", "status", cwd=clone, env=clone_state).code == 1  # not the first clone's stack
        second = run_cli("stack", "start", "--port", b, cwd=clone, env=clone_state)
        assert second.code == 0 and second.stdout.strip().endswith(f":{b}/postgres"), second.stderr
        assert (
            json.loads(first.stdout)["state_dir"]
            != json.loads(run_cli("stack", "status", "--json", cwd=clone, env=clone_state).stdout)["state_dir"]
        )

        # A revision pulled while the stack runs: a second start applies it instead of reporting success.
        scratch.revision(2, "tags", "create table public.tags (id bigint);\n")
        again = run_cli("stack", "start", "--json", cwd=scratch.root, env=clone_state)
        assert again.code == 0, again.stderr
        info = json.loads(again.stdout)
        assert info["already_running"] is True and info["migrated_revisions"] == ["0002"]
        assert info["revision"] == "0002" and info["pending_revisions"] == []
        scratch.revision(3, "more", "create table public.more (id bigint);\n")
        refused = run_cli("stack", "start", "--no-migrate", cwd=scratch.root, env=clone_state)
        assert refused.code == 1 and "not at head: 0003 more" in refused.stderr, refused.stderr
        moved = run_cli("stack", "start", "--port", str(free_port()), cwd=scratch.root, env=clone_state)
        assert moved.code == 0 and f"ignored: the stack already runs on port {a}" in moved.stderr, moved.stderr

        # The state directory deleted under a running server: the orphan is named, then stopped.
        shutil.rmtree(info["state_dir"])
        blocked = run_cli("stack", "start", "--port", a, cwd=scratch.root, env=clone_state)
        assert blocked.code == 2 and "orphaned kwq8 postgres, pid" in blocked.stderr, blocked.stderr
        assert "kwq8 stack stop" in blocked.stderr and "Traceback" not in blocked.stderr
        status = json.loads(run_cli("stack", "status", "--json", cwd=scratch.root, env=clone_state).stdout)
        assert "state directory deleted" in status["orphan"]
        stopped = run_cli("stack", "stop", cwd=scratch.root, env=clone_state)
        assert stopped.code == 0 and "stopping the orphaned postgres" in stopped.stderr, stopped.stderr
        assert port_is_free(int(a))
    finally:
        run_cli("stack", "stop", cwd=scratch.root, env=clone_state)
        run_cli("stack", "stop", cwd=clone, env=clone_state)


def test_token_signs_an_access_token_supabase_auth_would_issue(kwq8_db: TestDatabase, kwq8_project: Project) -> None:
    user = kwq8_db.create_user("first@example.kw")
    url = ("--db-url", kwq8_db.url())
    result = run_cli("token", "--user", "First@Example.kw", *url)
    assert result.code == 0, result.stderr
    claims = jwt.decode(
        result.stdout.strip(), kwq8_project.auth.jwt_secret, algorithms=["HS256"], audience="authenticated"
    )
    assert claims["sub"] == user.user_id and claims["role"] == "authenticated" and claims["email"] == "first@example.kw"
    assert 3500 < claims["exp"] - claims["iat"] <= 3600 and claims["aal"] == "aal1"
    anon = run_cli("token", "--role", "anon", *url)
    assert anon.stdout.strip() == local_api_keys(kwq8_project.auth.jwt_secret)["anon"]
    missing = run_cli("token", "--user", "nobody@example.kw", *url)
    assert (
        missing.code == 1
        and "no auth user 'nobody@example.kw'" in missing.stderr
        and "khaled@example.test" in missing.stderr
    )


def test_the_seeded_demo_user_can_spend_at_once(kwq8_db: TestDatabase) -> None:
    seed = (ROOT / "supabase" / "seed.sql").read_text()
    with connect(kwq8_db.url()) as conn, conn.transaction():
        execute_file(conn, seed, "supabase/seed.sql")
    demo = Identity.user("5eed0000-0000-4000-8000-000000000002", "khaled@example.test")
    result = kwq8_db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": "first-call"}, as_=demo)
    assert Decimal(str(result["balance"])) > 0


def test_version_status_table_and_policy_legend(kwq8_db: TestDatabase, tmp_path: Path) -> None:
    version = run_cli("--version")
    assert version.code == 0 and version.stdout.strip() == f"kwq8 {importlib.metadata.version('kwq8')}"
    status = run_cli("stack", "status", env={"KWQ8_STATE_DIR": str(tmp_path / "state")})
    assert status.code == 1
    assert re.search(r"^\s*state\s+stopped\s*$", status.stdout, re.MULTILINE), status.stdout
    assert "state directory" in status.stdout and "False" not in status.stdout
    policies = run_cli("db", "policies", "--db-url", kwq8_db.url())
    assert policies.code == 0 and "legend: SIUD = select, insert, update, delete" in policies.stderr


def test_a_server_build_without_pg_config_or_pg_isready_is_configured_from_its_own_files(
    tmp_path: Path, kwq8_stack: Stack
) -> None:
    # A relocatable build (the PostgreSQL 17 one from npm): bin/ and lib/postgresql/, no pg_config.
    build = tmp_path / "pg17"
    (build / "bin").mkdir(parents=True)
    (build / "bin" / "pg_ctl").write_text("")
    assert pkglibdir(build / "bin") is None  # never the pg_config of another installation on PATH
    (build / "lib" / "postgresql").mkdir(parents=True)
    (build / "lib" / "postgresql" / "plpgsql.so").write_text("")
    assert pkglibdir(build / "bin") == build / "lib" / "postgresql"
    # Readiness without pg_isready: the server's answer to a startup packet.
    assert accepts_connections(kwq8_stack.port) is True
    assert accepts_connections(free_port()) is False
