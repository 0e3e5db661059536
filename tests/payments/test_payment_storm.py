"""A webhook storm through `kwq8 serve` (a real process, a committed database, the fake of
UPayments): 1000 concurrent duplicates of one genuine notification activate the plan once and
grant once, and 200 forgeries of eight kinds each get a clean 4xx and change nothing."""

from __future__ import annotations

import calendar
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from kwq8.payments.fake_upayments import FakeUPayments, WebhookDelivery, hmac_b64
from kwq8.pgserver import free_port
from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..conftest import ROOT
from ..payment_helpers import payments_audit_clean
from ..service_helpers import API_KEY, API_SECRET, JWT_SECRET, token

pytest_plugins = ("tests.service_fixtures",)

KUWAIT = ZoneInfo("Asia/Kuwait")
TABLES = ("public.payments", "public.subscriptions", "public.credit_transactions", "payments.provider_events")


@pytest.fixture
def served(kwq8_db: TestDatabase, fake_upayments: FakeUPayments) -> Iterator[str]:
    fake_upayments.reset()
    port = free_port()
    env = {
        **os.environ,
        "KWQ8_SERVICE_DB_URL": kwq8_db.url("postgres"),
        "SUPABASE_JWT_SECRET": JWT_SECRET,
        "UPAYMENTS_API_KEY": API_KEY,
        "UPAYMENTS_API_SECRET": API_SECRET,
        "UPAYMENTS_BASE_URL": fake_upayments.base_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "KWQ8_RATE_WEBHOOK_PER_IP": "100000",
        "KWQ8_RATE_IP_PER_WINDOW": "100000",
        # The storm comes from one address, as UPayments' deliveries do: above the per-client
        # bounds, which tests/service/test_service_availability.py tests.
        "KWQ8_RATE_REJECTED_WEBHOOKS_PER_IP": "100000",
        "KWQ8_MAX_CONNECTIONS_PER_IP": "200",
        "KWQ8_SERVICE_DB_POOL_SIZE": "8",
        "NO_COLOR": "1",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kwq8", "serve", "--port", str(port), "--log-level", "error"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:  # the process is starting: poll its health endpoint
            try:
                if httpx.get(origin + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
            time.sleep(0.1)
        yield origin
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def snapshot(db: TestDatabase) -> dict[str, str]:
    return {
        t: db.scalar(f"select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) from {t} x") for t in TABLES
    }


def signed(url: str, body: bytes, content_type: str = "application/json", secret: str = API_SECRET) -> WebhookDelivery:
    ts = str(int(time.time()))
    signature = hmac_b64(secret, ts.encode() + b"POST" + url.encode() + body)
    return WebhookDelivery(url, {"Content-Type": content_type, "X-Timestamp": ts, "X-Signature": signature}, body)


def one_month_later(at: datetime) -> datetime:
    local = at.astimezone(KUWAIT)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(at.tzinfo)


def pending_order(origin: str, db: TestDatabase, user: Identity) -> tuple[str, str]:
    response = httpx.post(
        origin + "/billing/checkout",
        json={"plan": "basic", "payment_method": "knet"},
        headers={"Authorization": f"Bearer {token(user)}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    order_id = response.json()["order_id"]
    return order_id, str(db.scalar("select track_id from public.payments where order_id = %s", (order_id,)))


def post_all(origin: str, deliveries: list[WebhookDelivery]) -> list[httpx.Response]:
    # Idle connections expire on the client before the server's 5 s idle deadline closes them, as
    # a well-behaved client's do: reusing one the server is closing at that moment is a reset.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=2.0)
    with httpx.Client(timeout=120, limits=limits) as client, ThreadPoolExecutor(max_workers=64) as pool:
        return list(
            pool.map(
                lambda d: client.post(origin + "/billing/webhooks/upayments", content=d.body, headers=d.headers),
                deliveries,
            )
        )


def test_webhook_storm(served: str, kwq8_db: TestDatabase, fake_upayments: FakeUPayments) -> None:
    url = served + "/billing/webhooks/upayments"
    buyer, victim = kwq8_db.create_user(), kwq8_db.create_user()
    order_id, track_id = pending_order(served, kwq8_db, buyer)
    victim_order, victim_track = pending_order(served, kwq8_db, victim)
    fake_upayments.set_outcome(track_id, "CAPTURED")
    fake_upayments.set_outcome(victim_track, "CAPTURED")  # a forgery that got through would apply

    genuine = fake_upayments.build_webhook(url, API_SECRET, track_id)
    responses = post_all(served, [genuine] * 1000)
    codes = Counter(r.status_code for r in responses)
    assert set(codes) <= {200, 503}, codes
    # Duplicates that raced the first one past the status budget are asked to come again.
    assert all(r.json()["code"] in ("PAY_005", "PAY_007") for r in responses if r.status_code == 503)
    # Exactly one delivery applied the payment; every other one is a duplicate of it (or, having
    # raced it to the status check, found the payment settled: late).
    answers = Counter((r.json()["duplicate"], r.json()["outcome"]) for r in responses if r.status_code == 200)
    assert answers[(False, "applied")] == 1, answers
    assert set(answers) <= {(False, "applied"), (True, "applied"), (False, "late")}, answers
    assert 1 <= len(fake_upayments.status_calls) <= 30  # UPayments' merchant-wide limit a minute

    row = kwq8_db.sql("select status, paid_at from public.payments where order_id = %s", (order_id,))[0]
    assert row["status"] == "paid"
    subs = kwq8_db.sql("select * from public.subscriptions where user_id = %s", (buyer.user_id,))
    assert len(subs) == 1 and subs[0]["status"] == "active"
    assert subs[0]["current_period_start"] == row["paid_at"]
    assert subs[0]["current_period_end"] == one_month_later(row["paid_at"])
    grants = kwq8_db.sql(
        "select credits_amount from public.credit_transactions where user_id = %s and transaction_type = 'grant'"
        " and idempotency_key is not null",
        (buyer.user_id,),
    )
    assert grants == [{"credits_amount": Decimal("100.00")}]
    bonus = Decimal(kwq8_db.scalar("select daily_bonus from public.plans where code = 'basic'"))
    balance = kwq8_db.scalar("select credits_balance from public.users where id = %s", (buyer.user_id,))
    assert Decimal(balance) == Decimal("100.00") + bonus

    # Forgeries, 25 of each kind.
    genuine_body = json.loads(genuine.body)
    tampered = {**genuine_body, "track_id": victim_track, "requested_order_id": victim_order}
    forged_kinds: dict[str, tuple[WebhookDelivery, int, str]] = {
        "bad signature": (
            WebhookDelivery(url, {**genuine.headers, "X-Signature": hmac_b64("guess", b"x")}, genuine.body),
            401,
            "PAY_006",
        ),
        "wrong amount": (
            WebhookDelivery(url, genuine.headers, json.dumps({**genuine_body, "amount": "2.300"}).encode()),
            401,
            "PAY_006",
        ),
        "wrong currency": (
            WebhookDelivery(url, genuine.headers, json.dumps({**genuine_body, "currency": "USD"}).encode()),
            401,
            "PAY_006",
        ),
        "unknown order": (
            signed(
                url,
                json.dumps(
                    {"track_id": "nope123", "result": "CAPTURED", "requested_order_id": "kwq8_" + "0" * 32}
                ).encode(),
            ),
            404,
            "PAY_002",
        ),
        "another user's order": (signed(url, json.dumps(tampered).encode(), secret="not-the-secret"), 401, "PAY_006"),
        "malformed JSON": (signed(url, b'{"track_id": "' + track_id.encode()), 400, "REQ_010"),
        "2 MB body": (signed(url, b'{"pad": "' + b"a" * (2 * 1024 * 1024) + b'"}'), 413, "REQ_001"),
        "wrong content type": (signed(url, b"<notification/>", "application/xml"), 415, "REQ_011"),
    }
    before = snapshot(kwq8_db)
    calls = len(fake_upayments.status_calls)
    kinds = [kind for kind in forged_kinds for _ in range(25)]
    answers = post_all(served, [forged_kinds[kind][0] for kind in kinds])
    for kind, answer in zip(kinds, answers, strict=True):
        _, status_code, code = forged_kinds[kind]
        assert (answer.status_code, answer.json()["code"]) == (status_code, code), (kind, answer.text[:200])
    assert snapshot(kwq8_db) == before
    assert len(fake_upayments.status_calls) == calls
    assert kwq8_db.scalar("select status from public.payments where order_id = %s", (victim_order,)) == "pending"
    assert kwq8_db.sql("select * from billing.audit_ledger()") == []
    payments_audit_clean(kwq8_db)
