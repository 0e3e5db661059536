"""The billing service under load an attacker controls: slow and half-open connections, the
merchant-wide UPayments status quota, floods of forged webhooks.

The flood runs against `kwq8 serve` itself (a subprocess with 1,024 descriptors, as a small
container has) from other loopback addresses than the /healthz probe; the quota's oracle is the
fake UPayments' own record of status calls.
"""

from __future__ import annotations

import io
import json
import logging
import os
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from kwq8.payments.fake_upayments import FakeUPayments, WebhookDelivery
from kwq8.pgserver import free_port
from kwq8.postgrest import Identity
from kwq8.service.launch import startup_warnings
from kwq8.service.logs import configure_logging
from kwq8.testing.database import TestDatabase

from ..conftest import ROOT
from ..flood_helpers import flood
from ..service_helpers import API_KEY, API_SECRET, JWT_SECRET, NOTIFICATION_URL, Service, start_service, stop_service
from .test_service_webhooks import pending_order, snapshot

pytest_plugins = ("tests.service_fixtures",)

BUCKET = "upayments:get-payment-status"


def _small_descriptor_table() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))


@pytest.fixture
def served(billing_db: TestDatabase, fake_upayments: FakeUPayments) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    env = {
        **os.environ,
        "KWQ8_SERVICE_DB_URL": billing_db.url("postgres"),
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "UPAYMENTS_API_KEY": API_KEY,
        "UPAYMENTS_API_SECRET": API_SECRET,
        "UPAYMENTS_BASE_URL": fake_upayments.base_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "KWQ8_HEADER_TIMEOUT_S": "2",
        "KWQ8_BODY_TIMEOUT_S": "3",
        "NO_COLOR": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kwq8", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_small_descriptor_table,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
            time.sleep(0.1)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)


def test_slow_and_half_open_connections_do_not_take_the_service_down(
    served: tuple[int, subprocess.Popen[str]],
) -> None:
    port, proc = served
    report = flood(port, half_open=3000, trickling=200, seconds=8)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    events = Counter(line.get("event") for line in logged)
    # One line per request that reached the app (the probes, and at most the 50 admitted bodies
    # of 127.0.0.4); everything else, thousands of refusals and timeouts, in a few lines.
    requests = [line for line in logged if line["msg"] == "request"]
    others = [line for line in logged if line["msg"] != "request"]
    attack_requests = [line for line in requests if line["client_ip"] != "127.0.0.1"]

    assert report.probes and all(p < 1.0 for p in report.probes), (report.worst_probe_s, report.failures)
    # Every attack connection was closed by the server: refused at once beyond the per-client
    # bound, or at its head or body deadline.
    assert report.opened >= 2500 and report.closed_by_server == report.opened, report
    assert events["connection-refused-client"] >= 1 and events["slow-head"] >= 1 and events["slow-body"] >= 1, events
    assert len(others) < 20, others
    assert len(attack_requests) <= 50, attack_requests[:3]
    assert "Traceback" not in stderr


def test_each_kind_of_repeated_event_is_logged_once_per_interval() -> None:
    from kwq8.service.server import LogThrottle

    throttle = LogThrottle(logging.getLogger("test"), interval_s=10)
    assert throttle.allow("a", now=0.0) == 0
    assert [throttle.allow("a", now=t) for t in (1.0, 5.0, 9.9)] == [None, None, None]
    assert throttle.allow("b", now=2.0) == 0  # kinds are counted apart
    assert throttle.allow("a", now=10.0) == 3  # the next line says how many were left out


# ---------------------------------------------------------------------- the status quota


@pytest.fixture
def merchant_quota(billing_db: TestDatabase) -> Iterator[None]:
    """UPayments' real quota (30 a minute, 10 kept for webhooks and reconciliation) on a clean
    counter."""
    billing_db.sql("delete from ratelimit.rate_limits where bucket = %s", (BUCKET,))
    billing_db.sql("update payments.settings set status_calls_per_minute = 30, status_calls_reserved = 10")
    try:
        yield
    finally:
        billing_db.sql("update payments.settings set status_calls_per_minute = 1000, status_calls_reserved = 10")
        billing_db.sql("delete from ratelimit.rate_limits where bucket = %s", (BUCKET,))


def test_refreshes_by_many_accounts_stay_within_the_merchant_quota(
    service: Service, billing_db: TestDatabase, merchant_quota: None
) -> None:
    # Every refresh would ask (no freshness window): only the quota holds them back.
    buyers = [billing_db.create_user() for _ in range(8)]
    orders = [(buyer, pending_order(service, buyer)[0]) for buyer in buyers]
    requests = [(buyer, order_id) for buyer, order_id in orders for _ in range(10)]
    minute = "select date_trunc('minute', now())"
    first_minute = billing_db.scalar(minute)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(
            pool.map(
                lambda r: (
                    service.http.get(
                        f"{service.origin}/billing/payments/{r[1]}", headers=service.auth(r[0])
                    ).status_code
                ),
                requests,
            )
        )
    minutes = 1 if billing_db.scalar(minute) == first_minute else 2
    assert set(answers) == {200}  # over the quota, the last known status is answered
    assert len(service.fake.status_calls) <= 20 * minutes  # 30 a minute, 10 of them kept for webhooks
    # The reserve is still there for the webhook that settles a payment.
    _, order_id = orders[0]
    service.fake.set_outcome(service.track_id(order_id), "CAPTURED")
    assert service.deliver(service.webhook(service.track_id(order_id))).json()["outcome"] == "applied"


def test_a_fresh_status_is_answered_without_asking_upayments(
    service: Service, customer: Identity, merchant_quota: None
) -> None:
    fresh = start_service(service.db, service.fake, rate_ip_per_window=100_000, trusted_proxy_hops=1)
    try:
        order_id, _ = pending_order(fresh, customer)
        url = f"{fresh.origin}/billing/payments/{order_id}"
        with ThreadPoolExecutor(max_workers=5) as pool:
            answers = list(pool.map(lambda _: fresh.http.get(url, headers=fresh.auth(customer)), range(15)))
        assert [a.json()["status"] for a in answers] == ["pending"] * 15
        # One status call for the payment in its freshness window (the test may cross one).
        assert 1 <= len(service.fake.status_calls) <= 2
    finally:
        stop_service(fresh)


def test_forged_webhooks_are_rate_limited_and_never_reach_upayments(service: Service, customer: Identity) -> None:
    limited = start_service(service.db, service.fake, trusted_proxy_hops=1, rate_ip_per_window=100_000)
    stream = io.StringIO()
    handler = configure_logging(stream, level="INFO", logger="kwq8.service")
    try:
        order_id, track_id = pending_order(limited, customer)
        before = snapshot(limited)
        body = json.dumps({"track_id": track_id, "result": "CAPTURED", "requested_order_id": order_id}).encode()
        forged = WebhookDelivery(
            NOTIFICATION_URL,
            {"Content-Type": "application/json", "X-Timestamp": str(int(time.time())), "X-Signature": "Zm9yZ2Vk"},
            body,
        )
        attacker = httpx.Client(headers={"X-Forwarded-For": "198.51.100.66"}, timeout=10)
        # The per-instance counter has fixed 60 s windows on the system's monotonic clock: a flood
        # that crosses a window's end gets a fresh 20 there.
        first_window = time.monotonic() // 60
        with attacker, ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(lambda _: limited.deliver(forged, client=attacker), range(500)))
        windows = int(time.monotonic() // 60 - first_window) + 1
        codes = Counter((a.status_code, a.json()["code"]) for a in answers)
        assert codes == {(401, "PAY_006"): 20 * windows, (429, "RATE_001"): 500 - 20 * windows}, codes
        assert all(1 <= int(a.headers["retry-after"]) <= 60 for a in answers if a.status_code == 429)
        assert service.fake.status_calls == [] and snapshot(limited) == before
        # Another address (UPayments) is not held back by the attacker's refusals.
        service.fake.set_outcome(track_id, "CAPTURED")
        genuine = limited.webhook(track_id)
        assert limited.deliver(genuine).json()["outcome"] == "applied"
    finally:
        logging.getLogger("kwq8.service").removeHandler(handler)
        stop_service(limited)
    logged = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert sum(1 for line in logged if line["msg"].startswith("webhook")) <= 2, logged[:5]


def test_unsigned_webhooks_wait_behind_the_reserved_budget(
    service: Service, customer: Identity, merchant_quota: None
) -> None:
    unsigned = start_service(service.db, service.fake, webhook_secret=None, allow_unsigned_webhooks=True)
    service.db.sql("update payments.settings set status_calls_reserved = 30")  # nothing left for users
    try:
        order_id, track_id = pending_order(unsigned, customer)
        body = json.dumps({"track_id": track_id, "result": "CAPTURED", "requested_order_id": order_id}).encode()
        answer = unsigned.deliver(WebhookDelivery(NOTIFICATION_URL, {"Content-Type": "application/json"}, body))
        assert (answer.status_code, answer.json()["code"]) == (503, "PAY_007")
        assert service.fake.status_calls == []
    finally:
        stop_service(unsigned)


def test_a_service_without_a_webhook_secret_warns_loudly_at_start(service: Service) -> None:
    assert startup_warnings(service.settings) == []
    refusing = startup_warnings(service.settings.replace(webhook_secret=None))
    assert len(refusing) == 1 and "every webhook is refused" in refusing[0]
    accepting = startup_warnings(service.settings.replace(webhook_secret=None, allow_unsigned_webhooks=True))
    assert len(accepting) == 1 and "UNSIGNED webhooks are accepted" in accepting[0]
