"""Starting the billing service from its environment: settings, the checks an operator needs
before a socket is bound, then the guarded uvicorn server (`kwq8 serve`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from kwq8.errors import Kwq8Error
from kwq8.pgserver import port_is_free, port_owner
from kwq8.service.config import ConfigError, ServiceSettings

LOG_LEVELS = ("debug", "info", "warning", "error")


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


def serve(host: str, port: int, log_level: str, *, announce: Callable[[ServiceSettings, list[str]], None]) -> None:
    """Run the service until it is stopped. `announce` is shown the settings and the startup
    warnings once everything is checked, before the server starts."""
    from kwq8.service.app import create_app
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
    if log_level.lower() not in LOG_LEVELS:
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
    warnings = startup_warnings(settings)
    announce(settings, warnings)
    for warning in warnings:
        logging.getLogger("kwq8.service").warning(warning)
    limits = bounded_limits(settings.server_limits(), raise_file_limit())
    guarded_server(app, limits, host=host, port=port, log_level=log_level).run()
