"""`kwq8 serve`: the billing service."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from kwq8.cli.common import err

if TYPE_CHECKING:
    from kwq8.service.config import ServiceSettings

app = typer.Typer()


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    log_level: Annotated[str, typer.Option("--log-level", help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the billing service (checkout, UPayments webhooks) with uvicorn and its guards.

    Configured by environment variables only (docs/service.md).
    """
    from kwq8.service import launch

    launch.serve(host, port, log_level, announce=partial(_announce, f"http://{host}:{port}"))


def _announce(url: str, settings: ServiceSettings, warnings: list[str]) -> None:
    err.print(
        f"billing service ({settings.environment}) on {url}; webhooks at {settings.notification_url}",
        markup=False,
        highlight=False,
    )
    for warning in warnings:
        err.print(f"WARNING: {warning}", style="bold red", markup=False, highlight=False)
