"""The domain operations an operator runs outside the service (`kwq8 domains search`,
`kwq8 jobs domains`), configured from the environment like the service itself:
KWQ8_SERVICE_DB_URL (and KWQ8_SERVICE_DB_ROLE), NAMECHEAP_*, VERCEL_*, KWQ8_DOMAIN_*."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from kwq8.errors import Kwq8Error

if TYPE_CHECKING:
    from kwq8.domains.namecheap import NamecheapClient
    from kwq8.domains.worker import JobReport
    from kwq8.service.db import BillingDb


def service_db() -> BillingDb:
    """The billing service's database, with one connection: these run the service's functions."""
    from kwq8.service.db import BillingDb

    url = os.environ.get("KWQ8_SERVICE_DB_URL", "").strip()
    if not url:
        raise Kwq8Error("KWQ8_SERVICE_DB_URL is not set", exit_code=2)
    db = BillingDb(url, role=os.environ.get("KWQ8_SERVICE_DB_ROLE", "service_role") or None, pool_size=1)
    db.open()
    return db


def namecheap() -> NamecheapClient:
    from kwq8.domains.namecheap import ConfigError, NamecheapClient, NamecheapConfig

    try:
        return NamecheapClient(NamecheapConfig.from_env())
    except ConfigError as exc:
        raise Kwq8Error(f"Namecheap is not configured: {exc}", exit_code=2) from None


def search(name: str, *, years: int) -> dict[str, Any]:
    """A name and its suggestions at Namecheap, priced in KWD, within the budget shared with the
    service (domains.search)."""
    from kwq8.domains.config import DomainSettings
    from kwq8.domains.search import search
    from kwq8.service.errors import ServiceError

    settings = DomainSettings.from_env()
    if settings.usd_kwd_rate is None or settings.margin is None:
        problems = "; ".join(p for p in settings.problems if "KWQ8_DOMAIN" in p)
        raise Kwq8Error(f"domain pricing is not configured: {problems}", exit_code=2)
    rate, margin = settings.usd_kwd_rate, settings.margin
    db = service_db()
    try:
        with namecheap() as registrar:
            return search(db, registrar, name, years=years, rate=rate, margin=margin)
    except ServiceError as exc:
        raise Kwq8Error(f"{exc.code}: {exc.details or ''}", hint=exc.hint) from None
    finally:
        db.close()


def run_jobs(*, limit: int) -> JobReport:
    """Register paid orders and advance setup steps once (worker.run_once); the setup steps only
    when Vercel is configured."""
    from kwq8.domains.vercel import ConfigError, VercelClient, VercelConfig
    from kwq8.domains.worker import run_once

    db = service_db()
    vercel: VercelClient | None = None
    try:
        try:
            vercel = VercelClient(VercelConfig.from_env())
        except ConfigError:
            vercel = None
        with namecheap() as registrar:
            return run_once(db, registrar, vercel, f"{socket.gethostname()}:{os.getpid()}", limit=limit)
    finally:
        if vercel is not None:
            vercel.close()
        db.close()
