"""Hostile input to the billing service: control characters, oversized requests, long fields.

Every refusal is a catalogued 4xx answered before UPayments is called or anything is written;
the oracles are the fake's record of calls and a digest of the tables a request could write.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from urllib.parse import quote

import httpx
import pytest

from kwq8.payments.fake_upayments import FakeUPayments
from kwq8.postgrest import Identity
from kwq8.service.logs import configure_logging
from kwq8.service.redact import MAX_LOGGED_CHARS
from kwq8.testing.database import TestDatabase

from ..service_helpers import Service, start_service, stop_service
from .test_service_webhooks import pending_order, signed, snapshot

pytest_plugins = ("tests.service_fixtures",)

WEBHOOK = "/billing/webhooks/upayments"


@pytest.mark.parametrize("bad", ["\u0000", "a\u0000b", "\u0007", "\u001b[2J", "\u007f", "\u009b"])
def test_control_characters_in_a_signed_webhook_are_refused(service: Service, customer: Identity, bad: str) -> None:
    _, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED")
    before = snapshot(service)
    calls = len(service.fake.status_calls)
    bodies = [
        json.dumps({"track_id": track_id + bad, "result": "CAPTURED"}).encode(),
        json.dumps({"track_id": track_id, "result": "CAPTURED", "note": ["x", {"deep": bad}]}).encode(),
        json.dumps({"track_id": track_id, "result": "CAPTURED", "key" + bad: "x"}).encode(),
    ]
    for body in bodies:
        response = service.deliver(signed(body))
        assert (response.status_code, response.json()["code"]) == (400, "VAL_002"), body
        assert bad not in response.text
    form = f"result=CAPTURED&track_id={track_id}{quote(bad)}".encode()
    response = service.deliver(signed(form, content_type="application/x-www-form-urlencoded"))
    assert (response.status_code, response.json()["code"]) == (400, "VAL_002")
    assert len(service.fake.status_calls) == calls
    assert snapshot(service) == before
    assert service.deliver(service.webhook(track_id, "CAPTURED")).json()["outcome"] == "applied"


def test_control_characters_in_query_strings_and_paths_are_refused(service: Service, customer: Identity) -> None:
    before = snapshot(service)
    for target in (
        WEBHOOK + "?track_id=abc%00",
        WEBHOOK + "?note=%1B%5B2J",
        "/billing/payments/kwq8_%00",
        "/healthz?x=%07",
    ):
        method = "POST" if target.startswith(WEBHOOK) else "GET"
        response = service.http.request(method, service.origin + target, headers=service.auth(customer))
        assert (response.status_code, response.json()["code"]) == (400, "VAL_002"), target
    assert snapshot(service) == before


@pytest.mark.parametrize(
    "body",
    [
        {"plan": "basic\u0000"},
        {"plan": "basic", "language": "ar\u0000"},
        {"plan": "basic", "payment_method": "knet\u0007"},
        {"plan": "basic", "\u0000": 1},
    ],
)
def test_control_characters_in_a_checkout_are_refused(service: Service, customer: Identity, body: dict) -> None:
    charges = len(service.fake.charges)
    response = service.http.post(service.origin + "/billing/checkout", json=body, headers=service.auth(customer))
    assert (response.status_code, response.json()["code"]) == (400, "VAL_002")
    assert response.json()["message"] == "البيانات المدخلة تحتوي على رموز غير مسموح بها"
    assert len(service.fake.charges) == charges
    assert service.db.scalar("select count(*) from public.payments where user_id = %s", (customer.user_id,)) == 0


def test_cancel_refuses_control_characters_in_field_names(service: Service, customer: Identity) -> None:
    response = service.http.post(
        service.origin + "/billing/subscription/cancel",
        content=b'{"cancel": true, "x\\u0000": 1}',
        headers={**service.auth(customer), "Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()["code"]) == (400, "VAL_002")


# Shapes that made the log-redaction patterns backtrack (time growing with the square of the length).
ADVERSARIAL = ["a", "token", "eyJ", "eyJ-", "x-api-key", "Bearer ", "1 "]


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response | None, float]:
    started = time.perf_counter()
    try:
        response: httpx.Response | None = call()
    except httpx.HTTPError:  # a server may also refuse a 1 MB request line by closing
        response = None
    return response, time.perf_counter() - started


# A health check answered later than this means the event loop stalled: a quadratic parse of a
# 64 KB field stalls it for seconds, while a busy shared machine delays one answer by tens of ms.
STALL_S = 0.5


@contextmanager
def health_watch(service: Service) -> Iterator[list[float]]:
    """Poll /healthz every 10 ms meanwhile; yields the list of its answer times."""
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(timeout=5.0) as client:
            while not stop.is_set():
                response, elapsed = timed(lambda: client.get(service.origin + "/healthz"))
                assert response is not None and response.status_code == 200
                latencies.append(elapsed)
                stop.wait(0.01)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        yield latencies
        # At least one answer from while the request ran, or right after it.
        seen = len(latencies)
        deadline = time.monotonic() + 5
        while len(latencies) <= seen and thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join()


def raw_get(origin: str, target: str) -> bytes:
    """GET ``target`` over a plain socket (HTTP clients refuse URLs this long); returns what the
    server answered before closing (nothing if it closed without an answer)."""
    url = httpx.URL(origin)
    with socket.create_connection((url.host, url.port or 80), timeout=5.0) as sock:
        with suppress(OSError):  # the server may refuse the request line before reading all of it
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.host}\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        with suppress(OSError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The log handler `kwq8 serve` installs (JSON lines, redacted), writing to a buffer."""
    stream = io.StringIO()
    handler = configure_logging(stream, level="INFO")
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize("shape", ADVERSARIAL)
@pytest.mark.parametrize("length", [8_000, 1_000_000])  # one the server parses and logs, one it refuses
def test_a_huge_path_is_answered_quickly_and_the_service_keeps_answering(
    service: Service, logs: io.StringIO, shape: str, length: int
) -> None:
    path = "/" + quote((shape * (length // len(shape) + 1))[:length])
    elapsed: list[float] = []
    with health_watch(service) as latencies:
        for _ in range(3):
            started = time.perf_counter()
            answer = raw_get(service.origin, path)
            elapsed.append(time.perf_counter() - started)
            assert answer == b"" or answer.split(b" ", 2)[1].startswith(b"4"), answer[:200]
    # The best attempt is the service's own time; a pattern that made it quadratic would make
    # every attempt slow, far beyond what a busy neighbour adds to one of them.
    assert min(elapsed) < 0.1, elapsed
    assert latencies and max(latencies) < STALL_S, max(latencies)
    if length < 16_000:  # parsed, routed and logged, a bounded part of it
        lines = [json.loads(line) for line in logs.getvalue().splitlines()]
        paths = [line["path"] for line in lines if line["msg"] == "request" and line["status"] == 404]
        assert len(paths) == 3 and all(len(p) < 3 * MAX_LOGGED_CHARS for p in paths)


@pytest.mark.parametrize("shape", ADVERSARIAL)
def test_a_64_kb_webhook_field_is_answered_quickly_and_the_service_keeps_answering(
    wide_service: Service, customer: Identity, logs: io.StringIO, shape: str
) -> None:
    service = wide_service
    _, track_id = pending_order(service, customer)
    service.fake.set_outcome(track_id, "CAPTURED")
    field = (shape * (65_536 // len(shape) + 1))[:65_536]
    body = json.dumps({"track_id": track_id, "result": "CAPTURED", "note": field}).encode()
    delivery = signed(body)
    with health_watch(service) as latencies:
        # Refused, so each attempt does the same work: the best of five is the service's time
        # without the noise of a shared machine (a quadratic pattern makes every attempt slow).
        attempts = [timed(lambda: service.deliver(delivery)) for _ in range(5)]
    for response, _ in attempts:
        # The payments SQL keeps at most 16 KiB of a notification: refused with a code.
        assert response is not None and (response.status_code, response.json()["code"]) == (400, "VAL_001")
    assert min(elapsed for _, elapsed in attempts) < 0.1, attempts
    assert latencies and max(latencies) < STALL_S, latencies


@pytest.fixture(scope="module")
def wide_service(billing_db: TestDatabase, fake_upayments: FakeUPayments) -> Iterator[Service]:
    """An instance whose webhook limit lets 64 KB fields through to the parser and the logs."""
    running = start_service(
        billing_db,
        fake_upayments,
        max_webhook_bytes=300_000,
        rate_webhook_per_ip=100_000,
        rate_ip_per_window=100_000,
        rate_checkout_per_user=1000,
    )
    try:
        assert running.http.get(running.origin + "/healthz").status_code == 200  # connections warm
        yield running
    finally:
        stop_service(running)


@pytest.mark.parametrize("path", [WEBHOOK, "/billing/checkout"])
@pytest.mark.parametrize("declared", [True, False])
def test_an_oversized_body_gets_a_413_an_ordinary_client_can_read(
    service: Service, customer: Identity, path: str, declared: bool
) -> None:
    """httpx writes the whole body before it reads the answer, as most clients do."""
    body = b'{"plan": "basic", "pad": "' + b"x" * 2_000_000 + b'"}'
    content = body if declared else (body[i : i + 65_536] for i in range(0, len(body), 65_536))
    before = snapshot(service)
    # A small send buffer, so that the body cannot hide in the sockets' buffers on loopback: the
    # server must read it for httpx to finish writing.
    transport = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_SNDBUF, 16_384)])
    with httpx.Client(timeout=10.0, transport=transport) as client:
        started = time.perf_counter()
        response = client.post(
            service.origin + path,
            content=content,
            headers={**service.auth(customer), "Content-Type": "application/json"},
        )
        assert time.perf_counter() - started < 2.0
        assert (response.status_code, response.json()["code"]) == (413, "REQ_001")
        assert response.json()["message"] == "حجم الطلب كبير جداً"
        assert client.get(service.origin + "/healthz").status_code == 200
    assert snapshot(service) == before
    assert service.fake.charges == []


def webhook_head(service: Service, length: int) -> tuple[bytes, tuple[str, int]]:
    """The request line and headers of a JSON webhook POST of ``length`` bytes, and where to send it."""
    url = httpx.URL(service.origin)
    head = (
        f"POST {WEBHOOK} HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    return head, (url.host, url.port or 80)


def test_a_client_that_writes_the_whole_oversized_body_first_reads_the_413(service: Service) -> None:
    """The plainest client: send every byte, then read. Nothing is lost to a reset connection."""
    body = b"{" + b" " * 3_900_000 + b"}"
    head, address = webhook_head(service, len(body))
    with socket.create_connection(address, timeout=5.0) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16_384)  # the body cannot hide in buffers
        sock.sendall(head + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65_536)
            if not chunk:
                break
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), answer[:200]
    assert json.loads(rest.partition(b"\r\n\r\n")[2])["code"] == "REQ_001"


def test_a_body_declared_beyond_the_drain_bound_is_refused_at_once(service: Service) -> None:
    """A client announcing 1 GB is not waited for: the 413 comes before it has sent much."""
    head, address = webhook_head(service, 1 << 30)
    with socket.create_connection(address, timeout=5.0) as sock:
        sock.sendall(head + b"{" + b" " * 1000)
        answer = sock.recv(65_536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"connection: close" in answer.lower()
    assert service.http.get(service.origin + "/healthz").status_code == 200
