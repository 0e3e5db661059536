"""`kwq8 jobs ...`: the scheduled jobs, run once (by hand or from a scheduler)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer

from kwq8.cli.common import DbUrl, JsonOut, Yes, echo, err, print_json, resolve
from kwq8.db import connection
from kwq8.errors import Kwq8Error

app = typer.Typer(
    name="jobs", no_args_is_help=True, help="Run the scheduled database jobs by hand or from a scheduler."
)


def _report(report: Any, json_out: bool, line: Callable[[], str]) -> None:
    """A job's report as JSON, or as one plain line for a scheduler's log."""
    if json_out:
        print_json(report)
    else:
        err.print(line(), markup=False, highlight=False)


@app.command("run")
def jobs_run(db_url: DbUrl = None, yes: Yes = False, json_out: JsonOut = False) -> None:
    """Run the payments job once: end lapsed subscriptions and their credits, close abandoned
    checkouts, release expired holds, expire ended grants, drop old rate-limit counters."""
    from kwq8.payments.jobs import run_jobs

    _, target = resolve(db_url, mutating=True, yes=yes)
    echo(f"running the payments job on {target.describe()}")
    with connection(target.url, autocommit=True) as conn:
        report = run_jobs(conn)
    _report(
        report,
        json_out,
        lambda: (
            f"{report.get('subscriptions_ended', 0)} subscription(s) ended "
            f"({report.get('subscription_credits_expired', 0)} grant(s) expired with them), "
            f"{report.get('checkouts_abandoned', 0)} abandoned checkout(s) closed, "
            f"{report.get('holds_released', 0)} hold(s) released, {report.get('grants_expired', 0)} grant(s) "
            f"expired, {report.get('rate_limit_rows_deleted', 0)} rate-limit row(s) deleted"
        ),
    )


def _outcomes(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no changes"


@app.command("reconcile")
def jobs_reconcile(
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="Payments to check at most.")] = 100,
    json_out: JsonOut = False,
) -> None:
    """Ask UPayments (get-payment-status) about unsettled payments and record the answers: late
    captures are fulfilled (or kept for review), pending checkouts past their time limit close.
    Stays within the merchant-wide status budget it shares with the service."""
    from kwq8.payments.reconcile import reconcile, run_with_service_clients

    report = run_with_service_clients(reconcile, limit=limit)
    _report(
        report.as_dict(),
        json_out,
        lambda: (
            f"{report.checked} payment(s) checked ({_outcomes(report.outcomes)}), {report.errors} error(s), "
            f"{report.deferred} left for the next run"
        ),
    )


@app.command("refunds")
def jobs_refunds(
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="Refunds to submit at most.")] = 20,
    json_out: JsonOut = False,
) -> None:
    """Submit requested refunds to UPayments' create-refund, each at most once (an unclear
    answer leaves it needs_review for an operator)."""
    from kwq8.payments.reconcile import process_refunds, run_with_service_clients

    report = run_with_service_clients(process_refunds, limit=limit)
    _report(
        report.as_dict(),
        json_out,
        lambda: f"refunds: {_outcomes(report.outcomes)}, {report.deferred} left for the next run",
    )


@app.command("storage-cleanup")
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


@app.command("domains")
def jobs_domains(
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Orders and steps to handle at most.")] = 50,
    json_out: JsonOut = False,
) -> None:
    """Register paid domain orders (each exactly once) and advance domain setup steps."""
    from kwq8.domains import operations

    report = operations.run_jobs(limit=limit)
    _report(report.as_dict(), json_out, lambda: f"domains: {dict(report.outcomes) or 'nothing to do'}")
