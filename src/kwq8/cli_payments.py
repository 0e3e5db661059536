"""`kwq8 payments audit`: check that every captured payment is accounted for."""

from __future__ import annotations

import psycopg
import typer

from kwq8.cli_common import DbUrl, JsonOut, echo, err, out, print_json, resolve
from kwq8.db import connection
from kwq8.errors import Kwq8Error

payments_app = typer.Typer(no_args_is_help=True, help="Inspect and audit payments, refunds and subscriptions.")


@payments_app.command("audit")
def audit(db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """Check the payment invariants (payments.audit_payments); exit 1 on any violation."""
    _, target = resolve(db_url)
    echo(f"auditing the payments of {target.describe()}")
    with connection(target.url) as conn:
        try:
            rows = conn.execute("select order_id, problem, detail from payments.audit_payments()").fetchall()
            payments = conn.execute("select count(*) from public.payments").fetchone()
        except psycopg.Error as exc:
            raise Kwq8Error(
                f"the payments audit failed: {exc.diag.message_primary or type(exc).__name__}",
                hint="is the database migrated? (`kwq8 db status`)",
            ) from None
    violations = [{"order_id": order_id, "problem": problem, "detail": detail} for order_id, problem, detail in rows]
    if json_out:
        print_json({"payments": payments[0] if payments else 0, "violations": violations})
    else:
        for v in violations:
            out.print(f"{v['order_id'] or '-'}: {v['problem']} ({v['detail']})", markup=False, highlight=False)
        count = payments[0] if payments else 0
        err.print(
            f"{count} payments: "
            + (f"[red]{len(violations)} violation(s)[/red]" if violations else "[green]clean[/green]")
        )
    if violations:
        raise typer.Exit(1)
