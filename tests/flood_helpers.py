"""A slow-client flood against a server on this machine's loopback, from other loopback source
addresses than the one probing it: half-open connections (a request head never finished) and
trickling ones (one byte a second of a head or a body), while /healthz is timed."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class FloodReport:
    probes: list[float] = field(default_factory=list)  # seconds per /healthz, inf when it failed
    failures: list[str] = field(default_factory=list)  # what the failed probes met
    opened: int = 0  # attack connections the kernel accepted
    closed_by_server: int = 0  # of those, how many the server had closed at the end

    @property
    def worst_probe_s(self) -> float:
        return max(self.probes) if self.probes else float("inf")


def _connect(source: str, port: int) -> socket.socket | None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((source, 0))
        sock.settimeout(5)  # the server's accept queue may be full a moment
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        return sock
    except OSError:
        sock.close()
        return None


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.send(data)
        return True
    except OSError:
        return False


def _closed(sock: socket.socket) -> bool:
    """Whether the server closed (or reset) the connection; an answer it sent is read past."""
    try:
        while sock.recv(65536):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def flood(
    port: int,
    *,
    half_open: int = 2000,
    trickling: int = 200,
    seconds: float = 8.0,
    probe_every_s: float = 0.1,
) -> FloodReport:
    """Open ``half_open`` connections from 127.0.0.2 that send part of a head and stop, and
    ``trickling`` from 127.0.0.3 (heads) and 127.0.0.4 (bodies) that send a byte a second, for
    ``seconds``; meanwhile GET /healthz from 127.0.0.1 with a fresh connection every
    ``probe_every_s`` (1 s timeout). Bounded in count and time; every socket is closed after."""
    report = FloodReport()
    stop = threading.Event()
    begun = time.perf_counter()
    sockets: list[socket.socket] = []

    def probe() -> None:
        transport = httpx.HTTPTransport(local_address="127.0.0.1")
        with httpx.Client(transport=transport, timeout=1.0) as client:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get(f"http://127.0.0.1:{port}/healthz", headers={"Connection": "close"})
                    elapsed = time.perf_counter() - started if ok.status_code == 200 else float("inf")
                except httpx.HTTPError as exc:
                    report.failures.append(
                        f"{type(exc).__name__} after {time.perf_counter() - started:.2f}s, "
                        f"{started - begun:.2f}s into the flood"
                    )
                    elapsed = float("inf")
                report.probes.append(elapsed)
                stop.wait(probe_every_s)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        for _ in range(half_open):
            sock = _connect("127.0.0.2", port)
            if sock is not None and _send(sock, b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Pad: "):
                sockets.append(sock)
        heads = [s for s in (_connect("127.0.0.3", port) for _ in range(trickling // 2)) if s]
        bodies = [s for s in (_connect("127.0.0.4", port) for _ in range(trickling - trickling // 2)) if s]
        for sock in bodies:
            _send(sock, b"POST /billing/checkout HTTP/1.1\r\nHost: a\r\nContent-Length: 4000\r\n\r\n")
        sockets.extend(heads + bodies)
        report.opened = len(sockets)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for sock in heads:
                _send(sock, b"a")
            for sock in bodies:
                _send(sock, b"{")
            stop.wait(1.0)
        report.closed_by_server = sum(_closed(sock) for sock in sockets)
    finally:
        stop.set()
        prober.join(5)
        for sock in sockets:
            sock.close()
    return report
