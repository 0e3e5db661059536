"""`kwq8 test`: the test suites, run with pytest."""

from __future__ import annotations

import os
import sys

import typer

from kwq8.config import find_project

app = typer.Typer()


@app.command("test", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run the test suites with pytest; every argument is passed through."""
    project = find_project()
    os.chdir(project.root)
    os.execv(sys.executable, [sys.executable, "-m", "pytest", *ctx.args])
