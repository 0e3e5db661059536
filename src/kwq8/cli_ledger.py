"""`kwq8 ledger audit`: check the credit books."""

from __future__ import annotations

import typer

from kwq8 import ledger
from kwq8.cli_common import DbUrl, JsonOut, echo, err, out, print_json, resolve
from kwq8.db import connection

ledger_app = typer.Typer(no_args_is_help=True, help="Inspect and audit the credit ledger.")


@ledger_app.command("audit")
def audit(db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """Check every credit invariant; exit 1 on any violation."""
    _, target = resolve(db_url)
    echo(f"auditing the credit ledger of {target.describe()}")
    with connection(target.url) as conn:
        report = ledger.audit(conn)
    if json_out:
        print_json(report.as_dict())
    else:
        for violation in report.violations:
            out.print(violation.render(), markup=False, highlight=False)
        summary = (
            f"{report.users} users, {report.transactions} transactions, {report.grants} grants, {report.holds} holds: "
        )
        err.print(
            summary
            + (f"[red]{len(report.violations)} violation(s)[/red]" if report.violations else "[green]clean[/green]")
        )
    if not report.clean:
        raise typer.Exit(1)
