"""`kwq8 stack ...`: the local Supabase-compatible stack."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from kwq8.cli.common import JsonOut, Yes, echo, err, out, print_json
from kwq8.config import find_project
from kwq8.stack import Stack

app = typer.Typer(name="stack", no_args_is_help=True, help="Run the local Supabase-compatible stack.")

Port = Annotated[
    int | None,
    typer.Option("--port", help="Database port (default: [db] port in supabase/config.toml)."),
]
NoMigrate = Annotated[
    bool, typer.Option("--no-migrate", help="Do not migrate; refuse (exit 1, with the list) if anything is pending.")
]


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


@app.command("start")
def stack_start(
    port: Port = None,
    no_seed: Annotated[bool, typer.Option("--no-seed")] = False,
    no_migrate: NoMigrate = False,
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


@app.command("stop")
def stack_stop() -> None:
    """Stop the local PostgreSQL server cleanly (data is kept)."""
    stopped = Stack(find_project()).stop(echo=echo)
    err.print("[green]stopped[/green]" if stopped else "not running")


@app.command("status")
def stack_status(json_out: JsonOut = False) -> None:
    """Show whether the stack runs, its URL, keys and migration state. Exit 1 when it is not running."""
    info = Stack(find_project()).status()
    if json_out:
        print_json(info)
    else:
        _print_status(info, out)
    if not info["running"]:
        raise typer.Exit(1)


@app.command("reset")
def stack_reset(no_seed: Annotated[bool, typer.Option("--no-seed")] = False) -> None:
    """Recreate the local database, then apply shim, migrations and seed (like `supabase db reset`)."""
    stack = Stack(find_project())
    began = time.monotonic()
    stack.reset(seed=not no_seed, echo=echo)
    err.print(f"[green]reset[/green] in {time.monotonic() - began:.1f}s")


@app.command("destroy")
def stack_destroy(yes: Yes = False) -> None:
    """Stop the stack and delete its data directory."""
    stack = Stack(find_project())
    if not yes and not typer.confirm(f"Delete {stack.state_dir}?", default=False, err=True):
        raise typer.Exit(1)
    stack.destroy()
    err.print("[green]destroyed[/green]")
