"""What every command group shares: consoles, common options, target resolution, confirmation of
changes to remote databases, and the shape of an audit's output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import psycopg
import typer
from rich.console import Console

from kwq8.config import Project, find_project
from kwq8.db import Target, check_url, connection
from kwq8.errors import Kwq8Error
from kwq8.stack import Stack

T = TypeVar("T")

# Progress and status go to stderr; stdout is kept for machine-readable output.
err = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)

DbUrl = Annotated[
    str | None,
    typer.Option(
        "--db-url",
        envvar="KWQ8_DB_URL",
        show_envvar=True,
        help="Target this Postgres instead of the local stack (a `supabase start` stack, staging, production).",
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before changing a non-local database.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def echo(message: str) -> None:
    err.print(f"[dim]·[/dim] {message}")


def print_json(data: Any) -> None:
    out.print_json(json.dumps(data, default=str, ensure_ascii=False))


def resolve(db_url: str | None, *, mutating: bool = False, yes: bool = False) -> tuple[Project, Target]:
    project = find_project()
    if db_url:
        check_url(db_url)
        target = Target(db_url)
        if mutating and target.is_remote and not yes:
            confirm_remote(target)
        return project, target
    stack = Stack(project)
    if not stack.running:
        raise Kwq8Error(
            f"the local stack ({project.project_id}) is not running",
            hint="start it with `kwq8 stack start`, or target a database with --db-url / KWQ8_DB_URL",
            exit_code=2,
        )
    return project, stack.target()


def confirm_remote(target: Target) -> None:
    err.print(f"[bold yellow]target:[/bold yellow] {target.describe()} (not a local database)")
    if not sys.stdin.isatty() or os.environ.get("CI"):
        raise Kwq8Error(
            f"refusing to change {target.describe()} without confirmation",
            hint="pass --yes once you have checked the target",
        )
    if not typer.confirm("Apply changes to this database?", default=False, err=True):
        raise Kwq8Error("cancelled; nothing was changed")


def audited(db_url: str | None, what: str, audit: Callable[[psycopg.Connection[Any]], T]) -> T:
    """Run one of the database's audits on the target, saying which books of which database."""
    _, target = resolve(db_url)
    echo(f"auditing {what} of {target.describe()}")
    with connection(target.url) as conn:
        return audit(conn)


def finish_audit(report: dict[str, Any], violations: list[str], json_out: bool, summary: str = "") -> None:
    """JSON, or one line per violation and a summary; exit 1 on any violation, so CI can gate on it."""
    if json_out:
        print_json(report)
    else:
        for line in violations:
            out.print(line, markup=False, highlight=False)
        err.print(summary + (f"[red]{len(violations)} violation(s)[/red]" if violations else "[green]clean[/green]"))
    if violations:
        raise typer.Exit(1)
