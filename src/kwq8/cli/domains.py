"""`kwq8 domains search|status|audit`."""

from __future__ import annotations

from typing import Annotated

import typer

from kwq8.cli.common import DbUrl, JsonOut, audited, finish_audit, out, print_json, resolve
from kwq8.db import connection
from kwq8.domains import audit as domains_audit

app = typer.Typer(name="domains", no_args_is_help=True, help="Search, inspect and audit custom domains.")


@app.command("search")
def search_cmd(
    name: Annotated[str, typer.Argument(help="A name (example.com) or a keyword.")],
    years: Annotated[int, typer.Option("--years", min=1, max=10)] = 1,
    json_out: JsonOut = False,
) -> None:
    """Check a name and its suggestions at Namecheap, with prices in KWD (within the shared budget)."""
    from kwq8.domains import operations

    result = operations.search(name, years=years)
    if json_out:
        print_json(result)
        return
    for row in result["results"]:
        price = f"{row['price_kwd']} KWD" if row["price_kwd"] is not None else "-"
        state = "available" if row["available"] else "taken"
        out.print(f"{row['unicode']:<40} {state:<10} {price}", markup=False, highlight=False)


@app.command("status")
def status_cmd(fqdn: str, db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """A domain's status, setup step, records and latest order."""
    _, target = resolve(db_url)
    with connection(target.url) as conn:
        status = domains_audit.domain_status(conn, fqdn)
    if json_out:
        print_json(status)
        return
    for key in ("fqdn", "status", "step", "error_code", "verified_at", "registration_expires_at", "order"):
        out.print(f"{key}: {status.get(key)}", markup=False, highlight=False)


@app.command("audit")
def audit_cmd(db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """Check the domain invariants (domains.audit_domains); exit 1 on any violation."""
    violations = audited(db_url, "the domains", domains_audit.audit)
    report = {"violations": [v.as_dict("fqdn") for v in violations]}
    finish_audit(report, [v.render() for v in violations], json_out)
