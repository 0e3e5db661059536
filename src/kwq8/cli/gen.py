"""`kwq8 gen types`: the frontend contract, generated from the migrated database."""

from __future__ import annotations

from typing import Annotated

import typer

from kwq8.cli.common import DbUrl, echo, err, out
from kwq8.config import find_project
from kwq8.contract import generate

app = typer.Typer(name="gen", no_args_is_help=True, help="Generate the frontend contract.")


@app.command("types")
def types(
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 when a committed file differs from the generated one."),
    ] = False,
    db_url: DbUrl = None,
) -> None:
    """Write types/database.ts, types/schemas.ts, types/errors.ts, docs/frontend.md and docs/api.md.

    Without --db-url they are generated from a scratch database migrated from this tree and
    seeded, so the result depends on the migrations and the seed alone; with it, from that
    (migrated and seeded) database. docs/api.md runs the examples of
    src/kwq8/contract/api_examples.py, each in a transaction that is rolled back.
    """
    project = find_project()
    files = generate.render_for(project, db_url, echo)
    if check:
        diffs = generate.drift(project, files)
        for diff in diffs:
            out.print(diff, markup=False, highlight=False)
        if diffs:
            err.print(f"[red]{len(diffs)} generated file(s) out of date[/red]: run `kwq8 gen types` and commit them")
            raise typer.Exit(1)
        err.print(f"[green]up to date[/green]: {', '.join(generate.FILES)}")
        return
    changed = generate.write(project, files)
    err.print(f"wrote {', '.join(changed)}" if changed else "already up to date")
