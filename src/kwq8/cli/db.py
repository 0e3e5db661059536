"""`kwq8 db ...`: migrate, inspect, lint and audit a database."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from kwq8 import advisors, migrations, policy_matrix
from kwq8.cli.common import DbUrl, JsonOut, Yes, echo, err, out, print_json, resolve
from kwq8.config import find_project
from kwq8.db import connection

app = typer.Typer(name="db", no_args_is_help=True, help="Migrate, inspect and lint a database.")

# `audit` and `policies` come first in `kwq8 db --help`: the reviews before the operations.


class MinLevel(StrEnum):
    info = "info"
    warn = "warn"
    error = "error"


LevelOption = Annotated[
    MinLevel,
    typer.Option(
        "--level",
        case_sensitive=False,
        help="Show findings at this level or above. The exit code counts shown findings only.",
    ),
]


@app.command("audit")
def audit(
    db_url: DbUrl = None,
    json_out: JsonOut = False,
    level: LevelOption = MinLevel.info,
    supabase: Annotated[
        bool,
        typer.Option(
            "--supabase/--no-supabase",
            help=(
                "Run Supabase's advisors from the pinned Supabase CLI (`supabase db advisors`), as the "
                "dashboard shows them, beside KWq8's own lints (--no-supabase: KWq8's lints only)."
            ),
        ),
    ] = True,
) -> None:
    """Run the database advisors: Supabase's security and performance lints (from the pinned
    Supabase CLI) and KWq8's own.

    Exits 1 when an ERROR or WARN finding is shown, so CI can gate on it.
    """
    project, target = resolve(db_url)
    echo(f"auditing {target.describe()} (exposed schemas: {', '.join(project.exposed_schemas)})")
    findings = advisors.audit(project, target.url, supabase=supabase, echo=echo)
    shown = advisors.at_least(findings, level.value)
    if json_out:
        print_json([f.as_dict() for f in shown])
    else:
        _print_findings(shown)
    raise typer.Exit(advisors.exit_code(shown))


def _print_findings(findings: list[advisors.Finding]) -> None:
    if not findings:
        err.print("[green]no findings[/green]")
        return
    # A table on a terminal; one greppable line per finding in pipes and CI logs.
    if out.is_terminal:
        out.print(advisors.render_table(findings))
    else:
        for line in advisors.render_lines(findings):
            out.print(line, markup=False, highlight=False)
    summary = ", ".join(f"{n} {level.lower()}" for level, n in advisors.counts(findings).items())
    err.print(f"{len(findings)} finding(s): {summary}")
    for finding in _first_of_each_lint(findings):
        hint = f"{finding.name}: {finding.remediation} ({finding.docs_url})"
        err.print(Text(hint, style="dim"))


def _first_of_each_lint(findings: list[advisors.Finding]) -> list[advisors.Finding]:
    seen: dict[str, advisors.Finding] = {}
    for finding in findings:
        seen.setdefault(finding.name, finding)
    return list(seen.values())


@app.command("policies")
def policies(db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """Review access: every RLS policy, and each API role's grants per table, in exposed schemas."""
    project, target = resolve(db_url)
    schemas = project.exposed_schemas
    with connection(target.url, autocommit=True) as conn:
        rows = policy_matrix.policy_rows(conn, schemas)
        grants = policy_matrix.table_grants(conn, schemas)
    if json_out:
        print_json(
            {
                "schemas": schemas,
                "policies": [r.as_dict() for r in rows],
                "grants": [g.as_dict() for g in grants],
            }
        )
        return
    if out.is_terminal:
        out.print(policy_matrix.policy_table(rows))
        out.print(policy_matrix.grant_table(grants))
    else:
        for line in [*policy_matrix.policy_lines(rows), *policy_matrix.grant_lines(grants)]:
            out.print(line, markup=False, highlight=False)
    noun = "policy" if len(rows) == 1 else "policies"
    err.print(f"{len(rows)} {noun} on {len(grants)} relation(s) in {', '.join(schemas)}")
    err.print(policy_matrix.LEGEND, soft_wrap=True, markup=False)


LockTimeout = Annotated[float, typer.Option("--lock-timeout", help="Seconds to wait for another migration.")]
DdlLockTimeout = Annotated[
    str,
    typer.Option(
        "--ddl-lock-timeout",
        help="lock_timeout for the migration's statements, so DDL never queues behind long transactions.",
    ),
]
NoBodyCheck = Annotated[
    bool, typer.Option("--no-body-check", help="Skip plpgsql_check of the functions the migration creates.")
]


@app.command("migrate")
def db_migrate(
    db_url: DbUrl = None,
    yes: Yes = False,
    lock_timeout: LockTimeout = 60.0,
    ddl_lock_timeout: DdlLockTimeout = "30s",
    reapply_all: Annotated[
        bool, typer.Option("--reapply-all", help="Re-apply every function and policy file.")
    ] = False,
    no_body_check: NoBodyCheck = False,
    json_out: JsonOut = False,
) -> None:
    """Apply pending revisions and changed function/policy files, atomically; plpgsql_check every
    function created or replaced, rolling back on an error."""
    project, target = resolve(db_url, mutating=True, yes=yes)
    began = time.monotonic()
    result = migrations.migrate(
        project,
        target,
        lock_timeout_s=lock_timeout,
        ddl_lock_timeout=ddl_lock_timeout,
        reapply_all=reapply_all,
        check_bodies=not no_body_check,
        # The migrations assume Supabase's roles and auth schema; say so before the first error.
        require_supabase=True,
        echo=echo,
    )
    elapsed = time.monotonic() - began
    if json_out:
        print_json({**result.__dict__, "seconds": round(elapsed, 3)})
        return
    if result.changed:
        err.print(
            f"[green]migrated[/green] {len(result.applied)} revision(s), "
            f"{len(result.repeatables)} repeatable file(s) in {elapsed:.2f}s"
        )
    else:
        err.print("[green]up to date[/green]")


@app.command("status")
def db_status(
    db_url: DbUrl = None,
    json_out: JsonOut = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only verify applied files against the checkout: exit 1 on drift alone."),
    ] = False,
) -> None:
    """Current revision, pending revisions, changed repeatable files and drift. Exit 1 if anything is pending
    or an applied file was edited (with --check: on drift only)."""
    project, target = resolve(db_url)
    st = migrations.status(project, target)
    limiter = advisors.limiter_errors(target.url)
    if json_out:
        print_json({**st.as_dict(), "data_api_limiter": {"ok": not limiter, "errors": [f.detail for f in limiter]}})
    else:
        err.print(f"target:   {target.describe()}")
        err.print(f"current:  {st.current or '(none)'}")
        err.print(f"head:     {st.head or '(none)'}")
        for rev in st.pending:
            flag = " [no-transaction]" if rev.no_transaction else ""
            err.print(f"[yellow]pending[/yellow]  {rev.revision} {rev.message}{flag}")
        for change in st.repeatables:
            err.print(f"[yellow]{change.state:8}[/yellow] {change.rel}")
        for d in st.drift:
            err.print(f"[bold red]drift[/bold red]    {d.describe()}", soft_wrap=True)
        if st.drift:
            err.print(
                "hint: an applied migration never runs again; restore the file (git checkout) and put the "
                "change in a new revision (`kwq8 db new`)",
                markup=False,
                soft_wrap=True,
            )
        for finding in limiter:
            err.print(f"[red]error[/red]    {finding.detail} ({finding.remediation})")
        if st.up_to_date:
            err.print("[green]up to date[/green]")
        elif check and not st.drift:
            err.print("[green]no drift[/green]")
    # --check is the drift gate alone; the deploy gate also wants nothing pending and the limiter on.
    if st.drift or (not check and (not st.up_to_date or limiter)):
        raise typer.Exit(1)


@app.command("plan")
def db_plan(db_url: DbUrl = None) -> None:
    """Print the exact SQL `migrate` would run, without running it."""
    project, target = resolve(db_url)
    out.print(migrations.plan(project, target), markup=False, highlight=False)


@app.command("history")
def db_history(db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """What was applied, when and by whom."""
    _, target = resolve(db_url)
    rows = migrations.history(target)
    if json_out:
        print_json(rows)
        return
    table = Table("applied_at", "kind", "name", "file", "by")
    for r in rows:
        table.add_row(f"{r['applied_at']:%Y-%m-%d %H:%M:%S}", r["kind"], r["name"], r["file"], r["applied_by"])
    out.print(table)


@app.command("new")
def db_new(
    message: str,
    down: Annotated[bool, typer.Option("--down", help="Also create a .down.sql file.")] = False,
) -> None:
    """Create the next revision and its SQL file."""
    project = find_project()
    for path in migrations.new_revision(project, message, with_down=down):
        out.print(path.relative_to(project.root).as_posix())


# `-1` is how alembic users type "one step back": click would take it for an unknown option.
@app.command("downgrade", context_settings={"ignore_unknown_options": True})
def db_downgrade(
    target_revision: Annotated[
        str,
        typer.Argument(
            metavar="REVISION", help="A revision id (0007, 0007_name), -N (N steps back), REV-N, head-N, or base."
        ),
    ],
    db_url: DbUrl = None,
    yes: Yes = False,
    lock_timeout: LockTimeout = 60.0,
) -> None:
    """Undo revisions down to REVISION, when every one of them has a .down.sql file."""
    project, target = resolve(db_url, mutating=True, yes=yes)
    undone = migrations.downgrade(project, target, target_revision, lock_timeout_s=lock_timeout, echo=echo)
    err.print(f"[green]undid[/green] {', '.join(undone)}")


@app.command("lint")
def db_lint(
    db_url: DbUrl = None,
    no_db: Annotated[bool, typer.Option("--no-db", help="Skip plpgsql_check (needs a migrated database).")] = False,
    json_out: JsonOut = False,
) -> None:
    """sqlfluff over sql/, functions/, policies/; squawk over sql/; plpgsql_check over the database."""
    from kwq8 import lint

    project = find_project()
    target = None if no_db else resolve(db_url)[1]
    findings = lint.run_all(project, target, echo=echo)
    if json_out:
        print_json([f.__dict__ for f in findings])
    else:
        for f in findings:
            out.print(f.render(), markup=False, highlight=False)
        err.print(f"{len(findings)} finding(s)" if findings else "[green]lint clean[/green]")
    if findings:
        raise typer.Exit(1)


@app.command("supabase-migrations")
def db_supabase_migrations(
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when supabase/migrations is not up to date.")
    ] = False,
) -> None:
    """Generate supabase/migrations from the project's migrations (for supabase start / db reset / db push)."""
    from kwq8 import supabase_migrations

    project = find_project()
    if check:
        result = supabase_migrations.plan(project)
        for problem in result.problems:
            out.print(problem, markup=False, highlight=False, soft_wrap=True)
        for name in result.new_files:
            out.print(f"missing supabase/migrations/{name}", markup=False, highlight=False)
        if not result.up_to_date:
            err.print(f"hint: {supabase_migrations.REGENERATE_HINT}", markup=False, highlight=False)
            raise typer.Exit(1)
        err.print("[green]supabase/migrations is up to date[/green]")
        return
    for name in supabase_migrations.write(project):
        out.print(f"supabase/migrations/{name}", markup=False, highlight=False)
