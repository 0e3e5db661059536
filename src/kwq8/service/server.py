"""The billing service's HTTP server: uvicorn with the guards a public socket needs.

uvicorn is kept (it is what the service and its tests already run, its h11 protocol is small
and well understood, and it is the ASGI server Starlette documents), but on its own it closes
neither a connection that never finishes its request head nor one that trickles its body, has
no bound on connections per client, and logs one line per failed accept or bad request. So the
service runs uvicorn's h11 protocol with these guards (:class:`ConnectionGuard`):

- a deadline for the request head (``header_timeout_s``, from the first byte of a request or
  the end of the previous response) and one for the body (``body_timeout_s``, from the end of
  the head); uvicorn's keep-alive timeout closes idle connections between requests;
- at most ``max_connections`` open connections in all and ``max_connections_per_ip`` per client
  address (0: none, for a proxy in front that enforces it): beyond them a connection is closed
  as soon as it is accepted, so no descriptor is held for it;
- the head capped at ``max_header_bytes`` while it arrives (h11's incomplete-event bound) and
  once complete (HeaderLimitMiddleware in app.py answers REQ_016);
- repeated events (refused connections, timeouts, accept failures, bad requests) logged once per
  ``LOG_INTERVAL_S`` per kind, with the count of those left out (:class:`LogThrottle`).

A reverse proxy in front (docs/service.md) adds TLS and buffering of slow clients; without it the
service still holds: /healthz keeps answering while one address floods it.
"""

from __future__ import annotations

import array
import asyncio
import fcntl
import logging
import resource
import socket
import struct
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("kwq8.service.server")

LOG_INTERVAL_S = 10.0
# Descriptors kept free of connections: the database pool, UPayments calls, logs.
RESERVED_DESCRIPTORS = 256


@dataclass(frozen=True)
class ServerLimits:
    header_timeout_s: float = 5.0
    body_timeout_s: float = 10.0
    keep_alive_s: float = 5.0
    max_connections: int = 1000
    max_connections_per_ip: int = 50
    max_header_bytes: int = 16 * 1024
    # Connections the kernel queues before accept(): a burst of attack connections must not
    # crowd out a health check while the guard refuses them (capped by net.core.somaxconn).
    backlog: int = 4096


class LogThrottle:
    """Logs each kind of repeated event at most once per interval: the first at once, then, with
    the next one after the interval, how many were left out in between."""

    def __init__(self, logger: logging.Logger, interval_s: float = LOG_INTERVAL_S) -> None:
        self._log = logger
        self._interval_s = interval_s
        self._kinds: dict[str, list[float]] = {}  # kind -> [when last logged, left out since]

    def allow(self, kind: str, now: float | None = None) -> int | None:
        """The number of events of ``kind`` left out since the last logged one when this one is to
        be logged, None when it is to be left out."""
        now = time.monotonic() if now is None else now
        entry = self._kinds.get(kind)
        if entry is not None and now - entry[0] < self._interval_s:
            entry[1] += 1
            return None
        left_out = int(entry[1]) if entry else 0
        self._kinds[kind] = [now, 0]
        return left_out

    def warn(self, kind: str, message: str, **extra: Any) -> None:
        left_out = self.allow(kind)
        if left_out is not None:
            self._log.warning(
                message, extra={"event": kind, "left_out": left_out, "interval_s": self._interval_s, **extra}
            )

    def flush(self) -> None:
        """Log what is still left out (at shutdown)."""
        for kind, (_, left_out) in self._kinds.items():
            if left_out:
                self._log.warning("repeated event", extra={"event": kind, "left_out": int(left_out)})
        self._kinds.clear()


class ThrottledRecords(logging.Filter):
    """uvicorn's own warnings ("Invalid HTTP request received." for every bad request), once per
    interval per message."""

    def __init__(self, throttle: LogThrottle) -> None:
        super().__init__()
        self._throttle = throttle

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        left_out = self._throttle.allow("uvicorn:" + str(record.msg))
        if left_out is None:
            return False
        record.left_out = left_out
        return True


class ConnectionGuard:
    """Connection counts (in all and per client address) and the throttled log, shared by every
    connection of one server. Used on the event loop's thread only."""

    def __init__(self, limits: ServerLimits, throttle: LogThrottle | None = None) -> None:
        self.limits = limits
        self.throttle = throttle or LogThrottle(log)
        self.total = 0
        self.per_ip: dict[str, int] = {}

    def admit(self, ip: str) -> bool:
        limits = self.limits
        if self.total >= limits.max_connections:
            self.throttle.warn("connection-refused-total", "connection refused: too many open connections")
            return False
        count = self.per_ip.get(ip, 0)
        if limits.max_connections_per_ip and count >= limits.max_connections_per_ip:
            self.throttle.warn(
                "connection-refused-client", "connection refused: too many from one address", client_ip=ip
            )
            return False
        self.total += 1
        self.per_ip[ip] = count + 1
        return True

    def release(self, ip: str) -> None:
        self.total -= 1
        count = self.per_ip.pop(ip, 1) - 1
        if count > 0:
            self.per_ip[ip] = count

    def protocol(self) -> type[H11Protocol]:
        """uvicorn's h11 protocol bound to this guard (uvicorn's ``http`` setting)."""
        return _guarded_protocol(self)

    def listen(self, sock: socket.socket) -> socket.socket:
        """``sock`` (a listening socket) as one whose accept() admits or refuses each connection
        before asyncio makes a transport for it: a refused one costs an accept and a close."""
        gated = _GatedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
        gated.guard = self
        return gated

    def accept_errors(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The loop's exception handler: a failed accept (out of descriptors) once per interval,
        without its traceback; anything else as asyncio would log it."""
        message = str(context.get("message", ""))
        if message.startswith("socket.accept()"):
            error = context.get("exception")
            self.throttle.warn("accept-failed", "accepting a connection failed", error=type(error).__name__)
            return
        loop.default_exception_handler(context)


class _GatedSocket(socket.socket):
    guard: ConnectionGuard

    def accept(self) -> tuple[socket.socket, Any]:
        while True:  # until one is admitted, or BlockingIOError: none is waiting
            conn, address = super().accept()
            ip = str(address[0]) if isinstance(address, tuple) and address else "unknown"
            if self.guard.admit(ip):
                return conn, address
            # A reset rather than a close: no TIME_WAIT, nothing more to read or write.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()


def _guarded_protocol(guard: ConnectionGuard) -> type[H11Protocol]:
    limits = guard.limits

    class GuardedH11Protocol(H11Protocol):
        _admitted = False
        _ip = "unknown"
        _phase: str | None = None
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            # Admitted (and counted) by the listening socket's accept(): released when lost.
            self._admitted = True
            super().connection_made(transport)
            self._ip = self.client[0] if self.client else "unknown"
            self._watch()

        def connection_lost(self, exc: Exception | None) -> None:
            if not self._admitted:
                return
            self._cancel()
            self._admitted = False
            guard.release(self._ip)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._watch()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch()

        def _cancel(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _watch(self) -> None:
            """Arm the deadline of what the client owes now: a request head (h11 IDLE: nothing or
            part of a head received) or the rest of a body (SEND_BODY). While the app works on a
            complete request no deadline runs."""
            if self.transport.is_closing():
                self._cancel()
                return
            state = self.conn.their_state
            phase = "head" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
            if phase == self._phase:
                return
            self._cancel()
            self._phase = phase
            if phase is not None:
                timeout = limits.header_timeout_s if phase == "head" else limits.body_timeout_s
                self._deadline = self.loop.call_later(timeout, self._too_slow, phase)

        def _request_waiting(self) -> bool:
            """Bytes of a request the kernel holds and the loop has not read yet (it ran late, or
            reading is paused). Such a connection is not idle: closing it would discard them, and
            a close with unread data is a reset the client sees as a failed request."""
            sock = self.transport.get_extra_info("socket")
            if sock is None or sock.fileno() < 0:
                return False
            unread = array.array("i", [0])
            try:
                fcntl.ioctl(sock.fileno(), termios.FIONREAD, unread)
            except OSError:
                return False
            return unread[0] > 0

        def _too_slow(self, phase: str) -> None:
            self._deadline = None
            if self._phase == "head" and self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]:
                if self._request_waiting():
                    # Its next request arrived in time; the loop reads it next.
                    self._phase = None
                    self._watch()
                    return
                # An idle keep-alive connection that sent nothing: uvicorn's keep-alive timeout
                # closes those; this is the same, without a log line.
                self.transport.close()
                return
            guard.throttle.warn(
                f"slow-{phase}", f"connection closed: request {phase} not received in time", client_ip=self._ip
            )
            self.transport.abort()

        def timeout_keep_alive_handler(self) -> None:
            # uvicorn's keep-alive close, but not over a request that already arrived.
            if self._request_waiting():
                self.timeout_keep_alive_task = None
                return
            super().timeout_keep_alive_handler()

    return GuardedH11Protocol


def raise_file_limit() -> int:
    """Raise this process's descriptor limit to its hard limit; the soft limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def bounded_limits(limits: ServerLimits, descriptors: int) -> ServerLimits:
    """``limits`` fitted into the descriptor limit. asyncio accepts up to ``backlog`` sockets in
    one go before the guard sees any of them, and when accept() fails for want of descriptors it
    stops accepting for a whole second (asyncio's ACCEPT_RETRY_DELAY), during which a health
    check waits in the queue. So the admitted connections plus one batch of refused ones must
    fit in what the descriptor limit leaves: when they do not, the backlog gets a quarter of it
    and max_connections the rest."""
    room = max(descriptors - RESERVED_DESCRIPTORS, 64)
    if limits.max_connections + limits.backlog <= room:
        return limits
    backlog = min(limits.backlog, max(room // 4, 16))
    max_connections = min(limits.max_connections, room - backlog)
    log.warning(
        "connection limits lowered to fit the descriptor limit",
        extra={"max_connections": max_connections, "backlog": backlog, "descriptors": descriptors},
    )
    return ServerLimits(**{**limits.__dict__, "max_connections": max_connections, "backlog": backlog})


class GuardedServer(uvicorn.Server):
    """uvicorn.Server with the guard's exception handler on its loop."""

    def __init__(self, config: uvicorn.Config, guard: ConnectionGuard) -> None:
        super().__init__(config)
        self.guard = guard
        self._records = ThrottledRecords(guard.throttle)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        asyncio.get_running_loop().set_exception_handler(self.guard.accept_errors)
        logging.getLogger("uvicorn.error").addFilter(self._records)
        if sockets is None:
            sockets = [self.config.bind_socket()]
        await super().startup(sockets=[self.guard.listen(sock) for sock in sockets])

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets=sockets)
        logging.getLogger("uvicorn.error").removeFilter(self._records)
        self.guard.throttle.flush()


def guarded_server(
    app: Any,
    limits: ServerLimits,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "info",
    lifespan: str = "on",
    configure: Callable[[dict[str, Any]], None] | None = None,
) -> GuardedServer:
    """The server `kwq8 serve` runs (and the tests, on their own sockets)."""
    guard = ConnectionGuard(limits)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "http": guard.protocol(),
        "log_config": None,
        "log_level": log_level,
        "access_log": False,  # the app logs each request itself, redacted
        "server_header": False,
        "date_header": True,
        "proxy_headers": False,  # client IPs: KWQ8_TRUSTED_PROXY_HOPS decides what to trust
        "timeout_keep_alive": limits.keep_alive_s,
        "h11_max_incomplete_event_size": limits.max_header_bytes,
        "backlog": limits.backlog,
        "lifespan": lifespan,
        "timeout_graceful_shutdown": 5,
    }
    if configure is not None:
        configure(options)
    return GuardedServer(uvicorn.Config(app, **options), guard)
