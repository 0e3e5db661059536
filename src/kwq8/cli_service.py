"""`kwq8 serve` (the billing service) and `kwq8 jobs run` (the payments job, once)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import psycopg
import typer

from kwq8.cli_common import DbUrl, JsonOut, Yes, echo, err, print_json, resolve
from kwq8.db import connection
from kwq8.errors import Kwq8Error
from kwq8.pgserver import port_is_free, port_owner

if TYPE_CHECKING:
    from kwq8.payments.upayments import UPaymentsClient
    from kwq8.service.config import ServiceSettings
    from kwq8.service.db import BillingDb

jobs_app = typer.Typer(no_args_is_help=True, help="Run the scheduled database jobs by hand or from a scheduler.")


def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the billing service (checkout, UPayments webhooks) with uvicorn and its guards.

    Configured by environment variables only (docs/service.md).
    """
    from kwq8.service.app import create_app
    from kwq8.service.config import ConfigError, ServiceSettings
    from kwq8.service.db import BillingDb
    from kwq8.service.logs import configure_logging
    from kwq8.service.server import bounded_limits, guarded_server, raise_file_limit

    try:
        settings = ServiceSettings.from_env()
    except ConfigError as exc:
        raise Kwq8Error(
            f"the billing service cannot start: {exc}",
            hint='set the variables listed (docs/operations.md, "Configuration"); values are never printed',
            exit_code=2,
        ) from None
    if log_level.lower() not in ("debug", "info", "warning", "error"):
        raise Kwq8Error("--log-level must be debug, info, warning or error", exit_code=2)
    if not port_is_free(port, host):
        owner = port_owner(port)
        raise Kwq8Error(
            f"port {port} on {host} is already in use" + (f" by {owner.describe()}" if owner else ""),
            hint="stop that process, or pass --port N",
            exit_code=3,
        )
    configure_logging(level=log_level)
    db = BillingDb(settings.db_url, role=settings.db_role, pool_size=settings.db_pool_size)
    try:
        db.ping()
    except Exception as exc:
        db.close()
        raise Kwq8Error(
            f"the billing service cannot reach its database ({type(exc).__name__})",
            hint="check KWQ8_SERVICE_DB_URL and that the database runs (`kwq8 stack status`)",
            exit_code=2,
        ) from None
    app = create_app(settings, db=db)
    err.print(
        f"billing service ({settings.environment}) on http://{host}:{port}; webhooks at {settings.notification_url}",
        markup=False,
        highlight=False,
    )
    for warning in startup_warnings(settings):
        err.print(f"WARNING: {warning}", style="bold red", markup=False, highlight=False)
        logging.getLogger("kwq8.service").warning(warning)
    limits = bounded_limits(settings.server_limits(), raise_file_limit())
    guarded_server(app, limits, host=host, port=port, log_level=log_level).run()


def startup_warnings(settings: ServiceSettings) -> list[str]:
    """What an operator must not miss: how webhooks are treated without a secret."""
    if settings.webhook_secret:
        return []
    if settings.allow_unsigned_webhooks:
        return [
            "no webhook secret: UNSIGNED webhooks are accepted (UPAYMENTS_ALLOW_UNSIGNED_WEBHOOKS=1, sandbox only); "
            "anybody can make this service ask UPayments about any payment"
        ]
    return [
        "no webhook secret (UPAYMENTS_API_SECRET or UPAYMENTS_WEBHOOK_SECRET): every webhook is refused; "
        "payments settle only through customers' refreshes and `kwq8 jobs reconcile`"
    ]


@jobs_app.command("run")
def jobs_run(db_url: DbUrl = None, yes: Yes = False, json_out: JsonOut = False) -> None:
    """Run the payments job once: end lapsed subscriptions and their credits, close abandoned
    checkouts, release expired holds, expire ended grants, drop old rate-limit counters."""
    _, target = resolve(db_url, mutating=True, yes=yes)
    echo(f"running the payments job on {target.describe()}")
    with connection(target.url, autocommit=True) as conn:
        try:
            row = conn.execute("select payments.run_payment_jobs()").fetchone()
        except psycopg.Error as exc:
            raise Kwq8Error(
                f"the payments job failed: {exc.diag.message_primary or type(exc).__name__}",
                hint="is the database migrated? (`kwq8 db status`)",
            ) from None
    report = row[0] if row else {}
    if json_out:
        print_json(report)
        return
    err.print(
        f"{report.get('subscriptions_ended', 0)} subscription(s) ended "
        f"({report.get('subscription_credits_expired', 0)} grant(s) expired with them), "
        f"{report.get('checkouts_abandoned', 0)} abandoned checkout(s) closed, "
        f"{report.get('holds_released', 0)} hold(s) released, {report.get('grants_expired', 0)} grant(s) expired, "
        f"{report.get('rate_limit_rows_deleted', 0)} rate-limit row(s) deleted",
        markup=False,
        highlight=False,
    )


@contextmanager
def _billing_clients() -> Iterator[tuple[BillingDb, UPaymentsClient]]:
    """The database and UPayments clients of the jobs that call UPayments, configured like
    `kwq8 serve` (KWQ8_SERVICE_DB_URL, UPAYMENTS_*)."""
    from kwq8.payments.upayments import UPaymentsClient
    from kwq8.service.config import ConfigError, ServiceSettings
    from kwq8.service.db import BillingDb

    try:
        settings = ServiceSettings.from_env()
    except ConfigError as exc:
        raise Kwq8Error(f"the job cannot start: {exc}", exit_code=2) from None
    db = BillingDb(settings.db_url, role=settings.db_role, pool_size=1)
    db.open()
    try:
        with UPaymentsClient(settings.upayments) as client:
            yield db, client
    finally:
        db.close()


def _outcomes(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no changes"


@jobs_app.command("reconcile")
def jobs_reconcile(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Payments to check at most.")] = 100,
    json_out: JsonOut = False,
) -> None:
    """Ask UPayments (get-payment-status) about unsettled payments and record the answers: late
    captures are fulfilled (or kept for review), pending checkouts past their time limit close.
    Stays within the merchant-wide status budget it shares with the service."""
    from kwq8.payments.reconcile import reconcile

    with _billing_clients() as (db, client):
        report = reconcile(db, client, limit=limit)
    if json_out:
        print_json(report.as_dict())
        return
    err.print(
        f"{report.checked} payment(s) checked ({_outcomes(report.outcomes)}), {report.errors} error(s), "
        f"{report.deferred} left for the next run",
        markup=False,
        highlight=False,
    )


@jobs_app.command("refunds")
def jobs_refunds(
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="Refunds to submit at most.")] = 20,
    json_out: JsonOut = False,
) -> None:
    """Submit requested refunds to UPayments' create-refund, each at most once (an unclear
    answer leaves it needs_review for an operator)."""
    from kwq8.payments.reconcile import process_refunds

    with _billing_clients() as (db, client):
        report = process_refunds(db, client, limit=limit)
    if json_out:
        print_json(report.as_dict())
        return
    err.print(
        f"refunds: {_outcomes(report.outcomes)}, {report.deferred} left for the next run", markup=False, highlight=False
    )


@jobs_app.command("storage-cleanup")
def jobs_storage_cleanup(
    db_url: DbUrl = None,
    yes: Yes = False,
    json_out: JsonOut = False,
) -> None:
    """Delete the Storage files of deleted projects through the Storage API.

    Needs SUPABASE_URL (the project's API URL, e.g. http://127.0.0.1:54321) and
    SUPABASE_SERVICE_ROLE_KEY.
    """
    from kwq8 import storage_cleanup

    _, target = resolve(db_url, mutating=True, yes=yes)
    api = os.environ.get("SUPABASE_URL")
    key = os.environ.get("SUPABASE_SERVICE_ROLE_KEY")
    if not api or not key:
        raise Kwq8Error("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY must be set", exit_code=2)
    report = storage_cleanup.run(target.url, f"{api.rstrip('/')}/storage/v1", key)
    if json_out:
        print_json(report.as_dict())
    else:
        err.print(
            f"{report.requests} request(s), {report.deleted} object(s) deleted, "
            f"{report.done} project folder(s) done, {report.errors} error(s)"
        )
    if report.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    from kwq8.cli_domains import jobs_domains

    jobs_app.command("domains")(jobs_domains)
    app.command("serve")(serve)
    app.add_typer(jobs_app, name="jobs")
