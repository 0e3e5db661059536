"""`kwq8 domains search|status|audit` and `kwq8 jobs domains` (registration and setup steps)."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import psycopg
import typer

from kwq8.cli_common import DbUrl, JsonOut, echo, err, out, print_json, resolve
from kwq8.db import connection
from kwq8.errors import Kwq8Error

domains_app = typer.Typer(no_args_is_help=True, help="Search, inspect and audit custom domains.")


def _service_db():  # type: ignore[no-untyped-def]
    from kwq8.service.db import BillingDb

    url = os.environ.get("KWQ8_SERVICE_DB_URL", "").strip()
    if not url:
        raise Kwq8Error("KWQ8_SERVICE_DB_URL is not set", exit_code=2)
    db = BillingDb(url, role=os.environ.get("KWQ8_SERVICE_DB_ROLE", "service_role") or None, pool_size=1)
    db.open()
    return db


def _namecheap():  # type: ignore[no-untyped-def]
    from kwq8.domains.namecheap import ConfigError, NamecheapClient, NamecheapConfig

    try:
        return NamecheapClient(NamecheapConfig.from_env())
    except ConfigError as exc:
        raise Kwq8Error(f"Namecheap is not configured: {exc}", exit_code=2) from None


@domains_app.command("search")
def search_cmd(
    name: Annotated[str, typer.Argument(help="A name (example.com) or a keyword.")],
    years: Annotated[int, typer.Option("--years", min=1, max=10)] = 1,
    json_out: JsonOut = False,
) -> None:
    """Check a name and its suggestions at Namecheap, with prices in KWD (within the shared budget)."""
    from kwq8.domains.config import DomainSettings
    from kwq8.domains.search import search
    from kwq8.service.errors import ServiceError

    settings = DomainSettings.from_env()
    if settings.usd_kwd_rate is None or settings.margin is None:
        problems = "; ".join(p for p in settings.problems if "KWQ8_DOMAIN" in p)
        raise Kwq8Error(f"domain pricing is not configured: {problems}", exit_code=2)
    rate, margin = settings.usd_kwd_rate, settings.margin
    db = _service_db()
    try:
        with _namecheap() as namecheap:
            result = search(db, namecheap, name, years=years, rate=rate, margin=margin)
    except ServiceError as exc:
        raise Kwq8Error(f"{exc.code}: {exc.details or ''}", hint=exc.hint) from None
    finally:
        db.close()
    if json_out:
        print_json(result)
        return
    for row in result["results"]:
        price = f"{row['price_kwd']} KWD" if row["price_kwd"] is not None else "-"
        state = "available" if row["available"] else "taken"
        out.print(f"{row['unicode']:<40} {state:<10} {price}", markup=False, highlight=False)


@domains_app.command("status")
def status_cmd(fqdn: str, db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """A domain's status, setup step, records and latest order."""
    _, target = resolve(db_url)
    with connection(target.url) as conn:
        try:
            row = conn.execute("select domains.domain_status(null, %s)", (fqdn.strip().lower(),)).fetchone()
        except psycopg.Error as exc:
            raise Kwq8Error(f"no domain {fqdn} ({exc.diag.message_primary or type(exc).__name__})") from None
    status = row[0] if row else {}
    if json_out:
        print_json(status)
        return
    for key in ("fqdn", "status", "step", "error_code", "verified_at", "registration_expires_at", "order"):
        out.print(f"{key}: {status.get(key)}", markup=False, highlight=False)


@domains_app.command("audit")
def audit_cmd(db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """Check the domain invariants (domains.audit_domains); exit 1 on any violation."""
    _, target = resolve(db_url)
    echo(f"auditing the domains of {target.describe()}")
    with connection(target.url) as conn:
        try:
            rows = conn.execute("select fqdn, problem, detail from domains.audit_domains()").fetchall()
        except psycopg.Error as exc:
            raise Kwq8Error(
                f"the domains audit failed: {exc.diag.message_primary or type(exc).__name__}",
                hint="is the database migrated? (`kwq8 db status`)",
            ) from None
    violations = [{"fqdn": f, "problem": p, "detail": d} for f, p, d in rows]
    if json_out:
        print_json({"violations": violations})
    else:
        for v in violations:
            out.print(f"{v['fqdn'] or '-'}: {v['problem']} ({v['detail']})", markup=False, highlight=False)
        err.print(f"[red]{len(violations)} violation(s)[/red]" if violations else "[green]clean[/green]")
    if violations:
        raise typer.Exit(1)


def jobs_domains(
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Orders and steps to handle at most.")] = 50,
    json_out: JsonOut = False,
) -> None:
    """Register paid domain orders (each exactly once) and advance domain setup steps."""
    from kwq8.domains.vercel import ConfigError, VercelClient, VercelConfig
    from kwq8.domains.worker import run_once

    db = _service_db()
    try:
        try:
            vercel = VercelClient(VercelConfig.from_env())
        except ConfigError:
            vercel = None
        with _namecheap() as namecheap:
            report = run_once(db, namecheap, vercel, f"{socket.gethostname()}:{os.getpid()}", limit=limit)
        if vercel is not None:
            vercel.close()
    finally:
        db.close()
    if json_out:
        print_json(report.as_dict())
        return
    err.print(f"domains: {dict(report.outcomes) or 'nothing to do'}", markup=False, highlight=False)
