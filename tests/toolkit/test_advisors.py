"""KWq8's own lints: the project's schema is clean, and every lint catches what it names; and
`kwq8 db audit`, which adds Supabase's advisors from the pinned Supabase CLI.

Each violation is created inside `kwq8_tx` (rolled back). Findings are compared before and after,
so objects other tests or migrations add to the shared schema do not disturb the assertions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from kwq8.advisors import (
    LINTS,
    LINTS_BY_NAME,
    LINTS_DIR,
    Finding,
    at_least,
    counts,
    exit_code,
    lint_sql,
    render_lines,
    render_table,
    run_advisors,
)
from kwq8.cli import db as cli_db
from kwq8.config import Project
from kwq8.testing.database import TestDatabase

ROOT = Path(__file__).resolve().parents[2]


def conn_of(db: TestDatabase) -> psycopg.Connection[Any]:
    """The connection holding the test's transaction."""
    return db.default_api.conn


def findings(db: TestDatabase, exposed: list[str] | None = None) -> list[Finding]:
    return run_advisors(conn_of(db), exposed if exposed is not None else list(db.schemas))


def fired(db: TestDatabase, ddl: str) -> dict[str, set[str]]:
    """Run `ddl`; return, per lint, the objects of the findings it added."""
    before = set(findings(db))
    db.sql(ddl)
    added: dict[str, set[str]] = {}
    for f in set(findings(db)) - before:
        added.setdefault(f.name, set()).add(f.object)
    return added


def objects(db: TestDatabase, lint: str, ddl: str) -> set[str]:
    return fired(db, ddl).get(lint, set())


# --------------------------------------------------------------------------- the project itself


def test_project_schema_has_no_error_or_warning(kwq8_tx: TestDatabase, kwq8_project: Project) -> None:
    result = run_advisors(conn_of(kwq8_tx), kwq8_project.exposed_schemas)
    assert [f.render() for f in at_least(result, "warn")] == []


def test_run_leaves_the_callers_search_path_alone(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql("select set_config('search_path', 'public, extensions', true)")
    findings(kwq8_tx)
    assert kwq8_tx.scalar("select current_setting('search_path')") == "public, extensions"


# --------------------------------------------------------------------------- every lint fires

VIOLATIONS: dict[str, tuple[str, str]] = {
    "data_api_limiter_missing": (
        """
        do $$
        begin
            execute format('alter role authenticator in database %I set pgrst.db_pre_request = %L',
                current_database(), 'public.elsewhere');
        end
        $$
        """,
        "role authenticator",
    ),
    "rls_disabled_in_exposed_schema": (
        "create table public.adv_open (id int primary key)",
        "public.adv_open",
    ),
    "anon_security_definer_function_executable": (
        """
        create function public.adv_sd() returns int language sql security definer
            set search_path = '' as 'select 1';
        grant execute on function public.adv_sd() to anon;
        """,
        "public.adv_sd()",
    ),
    "authenticated_security_definer_function_executable": (
        """
        create function public.adv_sd() returns int language sql security definer
            set search_path = '' as 'select 1';
        grant execute on function public.adv_sd() to authenticated;
        """,
        "public.adv_sd()",
    ),
}


def test_every_lint_has_a_violation_test() -> None:
    assert set(VIOLATIONS) == set(LINTS_BY_NAME)


@pytest.mark.parametrize("lint", sorted(VIOLATIONS))
def test_lint_fires_on_exactly_the_violating_object(kwq8_tx: TestDatabase, lint: str) -> None:
    ddl, expected = VIOLATIONS[lint]
    assert objects(kwq8_tx, lint, ddl) == {expected}


@pytest.mark.parametrize("lint", sorted(VIOLATIONS))
def test_finding_carries_the_lints_metadata(kwq8_tx: TestDatabase, lint: str) -> None:
    ddl, expected = VIOLATIONS[lint]
    kwq8_tx.sql(ddl)
    found = [f for f in findings(kwq8_tx) if f.name == lint and f.object == expected]
    assert found, lint
    meta = LINTS_BY_NAME[lint]
    for f in found:
        assert (f.level, f.categories, f.title) == (meta.level, meta.categories, meta.title)
        assert f.detail and f.remediation
        assert f.docs_url.startswith("https://supabase.com/docs/guides/database/database-linter") or (
            meta.docs and (ROOT / f.docs_url).exists()
        )


# --------------------------------------------------------------------------- near misses


def test_rls_disabled_ignores_unexposed_and_protected_tables(kwq8_tx: TestDatabase) -> None:
    added = fired(
        kwq8_tx,
        """
        create table private.adv_internal (id int primary key);
        create table public.adv_safe (id int primary key);
        alter table public.adv_safe enable row level security;
    """,
    )
    assert "rls_disabled_in_exposed_schema" not in added


def test_rls_disabled_detail_names_granted_roles(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql("create table public.adv_open (id int primary key); grant select on public.adv_open to anon")
    [finding] = [
        f for f in findings(kwq8_tx) if f.name == "rls_disabled_in_exposed_schema" and f.object == "public.adv_open"
    ]
    assert "anon" in finding.detail and "authenticated" not in finding.detail


def test_rls_disabled_only_checks_the_exposed_schemas_given(kwq8_tx: TestDatabase) -> None:
    kwq8_tx.sql("create table public.adv_open (id int primary key)")
    names = {f.name for f in findings(kwq8_tx, exposed=["graphql_public"])}
    assert "rls_disabled_in_exposed_schema" not in names


def test_security_definer_function_grants(kwq8_tx: TestDatabase) -> None:
    definer = """
        create function {schema}.adv_sd() returns int language sql security definer
            set search_path = '' as 'select 1';
    """
    anon = "anon_security_definer_function_executable"
    authenticated = "authenticated_security_definer_function_executable"
    # not granted: nobody can call it
    added = fired(kwq8_tx, definer.format(schema="public"))
    assert anon not in added and authenticated not in added
    # granted to PUBLIC: both roles can
    added = fired(kwq8_tx, "grant execute on function public.adv_sd() to public")
    assert added[anon] == {"public.adv_sd()"} and added[authenticated] == {"public.adv_sd()"}
    # outside the exposed schemas it is not reachable through /rpc
    added = fired(
        kwq8_tx,
        definer.format(schema="private") + "grant execute on function private.adv_sd() to anon, authenticated;",
    )
    assert anon not in added and authenticated not in added


def test_security_invoker_function_executable_is_fine(kwq8_tx: TestDatabase) -> None:
    added = fired(
        kwq8_tx,
        """
        create function public.adv_inv() returns int language sql set search_path = ''
            as 'select 1';
        grant execute on function public.adv_inv() to anon, authenticated;
    """,
    )
    assert added == {}


# --------------------------------------------------------------------------- helpers and output


def _finding(level: str, name: str = "x") -> Finding:
    lint = LINTS_BY_NAME["rls_disabled_in_exposed_schema"]
    return Finding(name, lint.title, level, lint.categories, "public.t", "d", "r")  # type: ignore[arg-type]


def test_exit_code_fails_on_error_or_warn_only() -> None:
    assert exit_code([]) == 0
    assert exit_code([_finding("INFO")]) == 0
    assert exit_code([_finding("INFO"), _finding("WARN")]) == 1
    assert exit_code([_finding("ERROR")]) == 1


def test_level_filter_and_counts() -> None:
    all_levels = [_finding("INFO"), _finding("WARN"), _finding("ERROR")]
    assert [f.level for f in at_least(all_levels, "warn")] == ["WARN", "ERROR"]
    assert [f.level for f in at_least(all_levels, "ERROR")] == ["ERROR"]
    assert counts(all_levels) == {"ERROR": 1, "WARN": 1, "INFO": 1}


def test_renderers() -> None:
    finding = Finding(
        "no_primary_key",
        "No primary key",
        "INFO",
        ("PERFORMANCE",),
        "public.t",
        "table has no primary key [text[]]",
        "Add one.",
    )
    assert render_lines([finding]) == ["INFO no_primary_key public.t: table has no primary key [text[]]"]
    assert render_table([finding]).row_count == 1
    assert finding.as_dict()["categories"] == ["PERFORMANCE"]


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(cli_db.app)
    return app


def test_audit_command(kwq8_db: TestDatabase) -> None:
    runner = CliRunner()
    url = kwq8_db.url("postgres")
    clean = runner.invoke(_cli(), ["db", "audit", "--db-url", url, "--level", "warn"])
    assert clean.exit_code == 0, clean.output

    # A table without RLS, granted to anon: KWq8's lint and Supabase's own (from the CLI) both see it.
    kwq8_db.sql("create table public.adv_open (id int primary key); grant select on public.adv_open to anon")
    failing = runner.invoke(_cli(), ["db", "audit", "--db-url", url])
    assert failing.exit_code == 1, failing.output
    assert "ERROR rls_disabled_in_exposed_schema public.adv_open: RLS is disabled" in failing.stdout
    assert "ERROR rls_disabled_in_public public.adv_open" in failing.stdout

    as_json = runner.invoke(_cli(), ["db", "audit", "--json", "--level", "ERROR"], env={"KWQ8_DB_URL": url})
    assert as_json.exit_code == 1
    rows = json.loads(as_json.stdout)
    assert {(r["name"], r["object"]) for r in rows} == {
        ("rls_disabled_in_exposed_schema", "public.adv_open"),
        ("rls_disabled_in_public", "public.adv_open"),
    }
    assert all(r["level"] == "ERROR" for r in rows)
    ours_only = runner.invoke(_cli(), ["db", "audit", "--json", "--no-supabase", "--db-url", url])
    assert {r["name"] for r in json.loads(ours_only.stdout)} == {"rls_disabled_in_exposed_schema"}


def test_audit_shows_supabases_performance_and_security_advisors(kwq8_db: TestDatabase) -> None:
    # Lints KWq8 no longer carries itself come from the CLI: a mutable search_path (WARN), a
    # duplicate index (WARN) and an unindexed foreign key (INFO).
    kwq8_db.sql(
        """
        create function private.adv_f(x int) returns int language sql as 'select x + 1';
        create table private.adv_parent (id int primary key);
        create table private.adv_child (id int primary key, parent_id int references private.adv_parent (id),
            email text);
        create index adv_child_email_a on private.adv_child (email);
        create index adv_child_email_b on private.adv_child (email);
        """
    )
    result = CliRunner().invoke(_cli(), ["db", "audit", "--json", "--db-url", kwq8_db.url("postgres")])
    assert result.exit_code == 1, result.output
    found = {(r["name"], r["level"]) for r in json.loads(result.stdout) if "adv_" in r["object"]}
    assert found >= {
        ("function_search_path_mutable", "WARN"),
        ("duplicate_index", "WARN"),
        ("unindexed_foreign_keys", "INFO"),
    }, found


def test_own_lints_are_not_shipped_by_the_pinned_supabase_cli() -> None:
    # When an upgraded CLI ships one of these, the copy here goes (the audit would show it twice).
    binary = ROOT / "node_modules" / "@supabase" / "cli-linux-x64" / "bin" / "supabase"
    shipped = set(re.findall(rb"'([a-z0-9_]+)' as \"?name", binary.read_bytes()))
    assert len(shipped) >= 20
    assert {lint.name.encode() for lint in LINTS} & shipped == set()


def test_each_own_lint_is_one_sql_file() -> None:
    files = {p.stem for p in LINTS_DIR.glob("*.sql")}
    used = {name for lint in LINTS for name in files if lint.sql == lint_sql(name)}
    assert used == files
