"""Rate limits shared by every instance of the service: fixed-window counters in Postgres
(``ratelimit.hit_rate_limit``), keyed by user or client IP, answered with RATE_001 (HTTP 429)
and ``Retry-After``."""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping

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


class LocalLimiter:
    """Fixed-window counters in this process's memory, for events that must cost no database
    work (webhooks failing verification). At most ``max_keys`` addresses are tracked; beyond
    that the oldest windows are dropped first."""

    def __init__(
        self, limit: int, window_s: int, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._hits: dict[str, tuple[float, int]] = {}  # key -> (window start, hits)
        self._lock = threading.Lock()

    def _window(self, now: float) -> float:
        return math.floor(now / self._window_s) * self._window_s

    def hit(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            start, hits = self._hits.get(key, (self._window(now), 0))
            if start != self._window(now):
                start, hits = self._window(now), 0
            self._hits.pop(key, None)
            self._hits[key] = (start, hits + 1)  # re-inserted: dict order is oldest first
            while len(self._hits) > self._max_keys:
                del self._hits[next(iter(self._hits))]

    def retry_after(self, key: str) -> int | None:
        """Seconds until ``key`` may try again when it has reached the limit, else None."""
        now = self._clock()
        with self._lock:
            start, hits = self._hits.get(key, (0.0, 0))
        if start != self._window(now) or hits < self._limit:
            return None
        return max(math.ceil(start + self._window_s - now), 1)


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
