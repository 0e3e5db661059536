"""Rate limits shared by every instance of the service: fixed-window counters in Postgres
(``payments.hit_rate_limit``), keyed by user or client IP, answered with RATE_001 (HTTP 429)
and ``Retry-After``."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping

from kwq8.service.db import BillingDb
from kwq8.service.errors import ServiceError

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, db: BillingDb, window_s: int) -> None:
        self._db = db
        self._window_s = window_s

    def check(self, bucket: str, limit: int) -> None:
        result = self._db.call("hit_rate_limit", bucket=bucket[:200], max_hits=limit, window_seconds=self._window_s)
        if not result["allowed"]:
            retry_after = str(result["retry_after"])
            log.warning("rate limit reached", extra={"bucket": bucket, "limit": limit})
            raise ServiceError(
                "RATE_001",
                f"more than {limit} requests in {self._window_s} seconds",
                f"retry after {retry_after} seconds",
                headers={"Retry-After": retry_after},
            )


def client_ip(peer: str | None, headers: Mapping[str, str], trusted_hops: int) -> str:
    """The client's address: the socket peer, or with ``trusted_hops`` reverse proxies in front
    (each appending to X-Forwarded-For), the entry the outermost trusted proxy added. Entries a
    client wrote itself are never trusted."""
    address = peer or "unknown"
    if trusted_hops > 0:
        forwarded = [part.strip() for part in headers.get("x-forwarded-for", "").split(",") if part.strip()]
        if forwarded:
            address = forwarded[-trusted_hops] if len(forwarded) >= trusted_hops else forwarded[0]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "unknown"
