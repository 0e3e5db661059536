"""The `kwq8` command line."""

from __future__ import annotations

import os
import sys
import time
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from kwq8 import advisors, migrations, shim
from kwq8.cli_audit import register as register_audit
from kwq8.cli_bench import bench_app
from kwq8.cli_common import DbUrl, JsonOut, Yes, echo, err, out, print_json, resolve
from kwq8.cli_domains import domains_app
from kwq8.cli_gen import gen_app
from kwq8.cli_ledger import ledger_app
from kwq8.cli_payments import payments_app
from kwq8.cli_service import register as register_service
from kwq8.cli_token import register as register_token
from kwq8.config import find_project
from kwq8.db import connection
from kwq8.errors import Kwq8Error
from kwq8.stack import Stack

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    help="KWq8 backend toolkit: local Supabase-compatible stack, migrations, lint and tests.",
)
stack_app = typer.Typer(no_args_is_help=True, help="Run the local Supabase-compatible stack.")
db_app = typer.Typer(no_args_is_help=True, help="Migrate, inspect and lint a database.")
app.add_typer(stack_app, name="stack")
app.add_typer(db_app, name="db")
register_audit(db_app)
app.add_typer(ledger_app, name="ledger")
app.add_typer(payments_app, name="payments")
app.add_typer(domains_app, name="domains")
register_service(app)
register_token(app)
app.add_typer(bench_app, name="bench")
app.add_typer(gen_app, name="gen")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"kwq8 {version('kwq8')}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """KWq8 backend toolkit: local Supabase-compatible stack, migrations, lint and tests."""


Port = Annotated[
    int | None,
    typer.Option("--port", help="Database port (default: [db] port in supabase/config.toml)."),
]


# --------------------------------------------------------------------------- stack


def _human(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "none"
    return "-" if value is None else str(value)


def _print_status(info: dict[str, object], console: Console = err) -> None:
    """The stack's state as a two-column table for people (`--json` is for programs)."""
    running = bool(info.get("running"))
    table = Table(
        "", "", show_header=False, box=box.SIMPLE, pad_edge=False, title=f"kwq8 local stack ({info['project_id']})"
    )
    table.add_row("state", f"running on port {info['port']}" if running else "stopped")
    labels = (
        ("orphan", "orphaned server"),
        ("db_url", "database URL"),
        ("server_version", "server"),
        ("revision", "revision"),
        ("pending_revisions", "pending revisions"),
        ("changed_repeatables", "changed functions/policies"),
        ("drift", "drifted files"),
        ("error", "error"),
        ("state_dir", "state directory"),
    )
    for key, label in labels:
        if key in info:
            table.add_row(label, _human(info[key]))
    console.print(table, soft_wrap=True)
    keys = info.get("api_keys")
    if isinstance(keys, dict):
        # One line each and never wrapped: they are copied from here into .env files.
        console.print(f"anon key: {keys['anon']}", soft_wrap=True, highlight=False)
        console.print(f"service_role key: {keys['service_role']}", soft_wrap=True, highlight=False)


@stack_app.command("start")
def stack_start(
    port: Port = None,
    no_seed: Annotated[bool, typer.Option("--no-seed")] = False,
    no_migrate: Annotated[
        bool,
        typer.Option("--no-migrate", help="Do not migrate; refuse (exit 1, with the list) if anything is pending."),
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Start PostgreSQL with the Supabase shim, migrated to head and seeded. A second start migrates what is pending."""
    stack = Stack(find_project(), port=port)
    report = stack.start(migrate=not no_migrate, seed=not no_seed, echo=echo)
    info = stack.status()
    info["already_running"] = report.already_running
    info["start_seconds"] = round(report.seconds, 2)
    if report.migrated is not None:
        info["migrated_revisions"] = report.migrated.applied
    if report.port_ignored is not None:
        info["port_ignored"] = report.port_ignored
        err.print(
            f"[yellow]note:[/yellow] --port {report.port_ignored} ignored: the stack already runs on port "
            f"{info['port']} (`kwq8 stack stop` first to move it)"
        )
    if json_out:
        print_json(info)
        return
    if report.already_running:
        err.print(f"[green]already running[/green] on port {info['port']}")
    else:
        err.print(f"[green]ready[/green] in {report.seconds:.1f}s")
    _print_status(info)
    out.print(info.get("db_url", ""))


@stack_app.command("stop")
def stack_stop() -> None:
    """Stop the local PostgreSQL server cleanly (data is kept)."""
    stopped = Stack(find_project()).stop(echo=echo)
    err.print("[green]stopped[/green]" if stopped else "not running")


@stack_app.command("status")
def stack_status(json_out: JsonOut = False) -> None:
    """Show whether the stack runs, its URL, keys and migration state. Exit 1 when it is not running."""
    info = Stack(find_project()).status()
    if json_out:
        print_json(info)
    else:
        _print_status(info, out)
    if not info["running"]:
        raise typer.Exit(1)


@stack_app.command("reset")
def stack_reset(no_seed: Annotated[bool, typer.Option("--no-seed")] = False) -> None:
    """Recreate the local database, then apply shim, migrations and seed (like `supabase db reset`)."""
    stack = Stack(find_project())
    began = time.monotonic()
    stack.reset(seed=not no_seed, echo=echo)
    err.print(f"[green]reset[/green] in {time.monotonic() - began:.1f}s")


@stack_app.command("destroy")
def stack_destroy(yes: Yes = False) -> None:
    """Stop the stack and delete its data directory."""
    stack = Stack(find_project())
    if not yes and not typer.confirm(f"Delete {stack.state_dir}?", default=False, err=True):
        raise typer.Exit(1)
    stack.destroy()
    err.print("[green]destroyed[/green]")


# --------------------------------------------------------------------------- db


LockTimeout = Annotated[float, typer.Option("--lock-timeout", help="Seconds to wait for another migration.")]
DdlLockTimeout = Annotated[
    str,
    typer.Option(
        "--ddl-lock-timeout",
        help="lock_timeout for the migration's statements, so DDL never queues behind long transactions.",
    ),
]


@db_app.command("migrate")
def db_migrate(
    db_url: DbUrl = None,
    yes: Yes = False,
    lock_timeout: LockTimeout = 60.0,
    ddl_lock_timeout: DdlLockTimeout = "30s",
    reapply_all: Annotated[
        bool, typer.Option("--reapply-all", help="Re-apply every function and policy file.")
    ] = False,
    no_body_check: Annotated[
        bool,
        typer.Option("--no-body-check", help="Skip plpgsql_check of the functions the migration creates."),
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Apply pending revisions and changed function/policy files, atomically; plpgsql_check every
    function created or replaced, rolling back on an error."""
    project, target = resolve(db_url, mutating=True, yes=yes)
    with connection(target.url) as conn:
        # The migrations assume Supabase's roles and auth schema; say so before the first error.
        shim.require_supabase_like(conn, target.describe())
    began = time.monotonic()
    result = migrations.migrate(
        project,
        target,
        lock_timeout_s=lock_timeout,
        ddl_lock_timeout=ddl_lock_timeout,
        reapply_all=reapply_all,
        check_bodies=not no_body_check,
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


@db_app.command("status")
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
    with connection(target.url) as conn, advisors.catalog_search_path(conn):
        limiter = advisors.run_lint(conn, advisors.LIMITER_LINT, {})
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


@db_app.command("plan")
def db_plan(db_url: DbUrl = None) -> None:
    """Print the exact SQL `migrate` would run, without running it."""
    project, target = resolve(db_url)
    out.print(migrations.plan(project, target), markup=False, highlight=False)


@db_app.command("history")
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


@db_app.command("new")
def db_new(
    message: str,
    down: Annotated[bool, typer.Option("--down", help="Also create a .down.sql file.")] = False,
) -> None:
    """Create the next revision and its SQL file."""
    project = find_project()
    for path in migrations.new_revision(project, message, with_down=down):
        out.print(path.relative_to(project.root).as_posix())


# `-1` is how alembic users type "one step back": click would take it for an unknown option.
@db_app.command("downgrade", context_settings={"ignore_unknown_options": True})
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


@db_app.command("lint")
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


@db_app.command("supabase-migrations")
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


# --------------------------------------------------------------------------- test


@app.command("test", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run the test suites with pytest; every argument is passed through."""
    project = find_project()
    os.chdir(project.root)
    os.execv(sys.executable, [sys.executable, "-m", "pytest", *ctx.args])


def main(argv: list[str] | None = None) -> None:
    """Entry point: expected failures print one line and a hint, and exit with their code."""
    try:
        app(args=argv, prog_name="kwq8")
    except Kwq8Error as exc:
        err.print(
            f"[bold red]error:[/bold red] {exc.message}",
            highlight=False,
            soft_wrap=True,
            markup=True,
        )
        if exc.hint:
            err.print(f"hint: {exc.hint}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()
