"""`kwq8 payments audit`: check that every captured payment is accounted for."""

from __future__ import annotations

import typer

from kwq8.cli.common import DbUrl, JsonOut, audited, finish_audit
from kwq8.payments import audit as payments_audit

app = typer.Typer(name="payments", no_args_is_help=True, help="Inspect and audit payments, refunds and subscriptions.")


@app.command("audit")
def audit(db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """Check the payment invariants (payments.audit_payments); exit 1 on any violation."""
    report = audited(db_url, "the payments", payments_audit.audit)
    finish_audit(report.as_dict(), [v.render() for v in report.violations], json_out, f"{report.payments} payments: ")
