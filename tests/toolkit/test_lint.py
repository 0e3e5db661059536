"""`kwq8 db lint`: the project is clean, and each linter reports file:line findings."""

from __future__ import annotations

import pytest

from kwq8 import lint, migrations
from kwq8.config import Project
from kwq8.db import Target
from kwq8.stack import Stack

from ..conftest import ScratchProject, run_cli


def test_project_sql_is_lint_clean(kwq8_stack: Stack, kwq8_project: Project) -> None:
    findings = lint.run_all(kwq8_project, kwq8_stack.target("kwq8_template"), echo=lambda _: None)
    assert [f.render() for f in findings] == []


@pytest.mark.requires_extension("plpgsql_check")
def test_each_linter_reports_file_and_line(scratch: ScratchProject, blank_db: Target, kwq8_stack: Stack) -> None:
    scratch.revision(1, "t", "create table public.t (id bigint primary key, v int);\n")
    scratch.revision(
        2,
        "idx",
        "-- an index on an existing table blocks writes while it builds\n\nCREATE INDEX t_v_idx ON public.t (v);\n",
    )
    scratch.write(
        "functions/broken.sql",
        (
            "create or replace function public.broken() returns int\n"
            "language plpgsql\n"
            "as $$\n"
            "begin\n"
            "    return (select no_such_column from public.t limit 1);\n"
            "end\n"
            "$$;\n"
        ),
    )
    # migrate would refuse the broken body; lint must find it in a database that has it anyway.
    migrations.migrate(scratch.project, blank_db, check_bodies=False)
    # The stack's own target: it lends plpgsql_check to the database for the check.
    findings = lint.run_all(scratch.project, kwq8_stack.target(blank_db.dbname), echo=lambda _: None)
    rendered = [f.render() for f in findings]
    assert any(r.startswith("sql/0002_idx.sql:3: [sqlfluff CP01]") for r in rendered), rendered
    assert any(r.startswith("sql/0002_idx.sql:3: [squawk require-concurrent-index-creation]") for r in rendered)
    assert any(r.startswith("functions/broken.sql:5: [plpgsql_check 42703]") for r in rendered), rendered


def test_large_files_are_not_skipped(scratch: ScratchProject) -> None:
    body = "".join(f"select {i} as value_{i};\n" for i in range(1500))
    scratch.write("sql/0001_big.sql", body + "SELECT 1;\n")
    assert len(body) > 20000
    findings = lint.run_sqlfluff(scratch.project)
    assert any(f.file == "sql/0001_big.sql" and f.line == 1501 for f in findings)


def test_cli_lint_exit_codes(scratch: ScratchProject) -> None:
    scratch.write("policies/ok.sql", "select 1;\n")
    clean = run_cli("db", "lint", "--no-db", cwd=scratch.root)
    assert clean.code == 0, clean.stdout + clean.stderr
    scratch.write("policies/bad.sql", "SELECT 1;\n")
    dirty = run_cli("db", "lint", "--no-db", cwd=scratch.root)
    assert dirty.code == 1 and "policies/bad.sql:1: [sqlfluff CP01]" in dirty.stdout


def test_squawk_judges_no_transaction_revisions_as_run_outside_a_transaction(scratch: ScratchProject) -> None:
    concurrently = (
        "drop index concurrently if exists public.t_v_idx;\n"
        "create index concurrently if not exists t_v_idx on public.t (v);\n"
    )
    scratch.write("sql/0001_t.sql", "create table public.t (id bigint primary key, v int);\n")
    scratch.write("sql/0002_idx.sql", "-- kwq8: no-transaction\n" + concurrently)
    scratch.write("sql/0003_idx.sql", concurrently)
    findings = lint.run_squawk(scratch.project)
    # Inside the transaction migrate wraps around 0003, `concurrently` fails; 0002 runs outside one.
    assert {(f.file, f.line, f.code) for f in findings} == {
        ("sql/0003_idx.sql", 2, "ban-concurrent-index-creation-in-transaction")
    }, [f.render() for f in findings]
