"""The `kwq8` command line: one module per command group, each a typer.Typer added here."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from kwq8.cli import bench, db, domains, gen, jobs, ledger, payments, serve, stack, test, token
from kwq8.cli.common import err, out
from kwq8.errors import Kwq8Error

app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    help="KWq8 backend toolkit: local Supabase-compatible stack, migrations, lint and tests.",
)
# A module's Typer has the group's name (`kwq8 stack ...`), or none for a top-level command
# (`kwq8 serve`), whose commands typer then adds to the root. The order is `kwq8 --help`'s.
for group in (serve, token, test, stack, db, ledger, payments, domains, jobs, bench, gen):
    app.add_typer(group.app)


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
