"""`kwq8 ledger audit`: check the credit books."""

from __future__ import annotations

import typer

from kwq8 import ledger
from kwq8.cli.common import DbUrl, JsonOut, audited, finish_audit

app = typer.Typer(name="ledger", no_args_is_help=True, help="Inspect and audit the credit ledger.")


@app.command("audit")
def audit(db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """Check every credit invariant; exit 1 on any violation."""
    report = audited(db_url, "the credit ledger", ledger.audit)
    totals = f"{report.users} users, {report.transactions} transactions, {report.grants} grants, {report.holds} holds: "
    finish_audit(report.as_dict(), [ledger.render(v) for v in report.violations], json_out, totals)
