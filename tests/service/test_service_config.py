"""Configuration from the environment, and `kwq8 serve` refusing to start or serving for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from kwq8.db import connect, make_url
from kwq8.payments.fake_upayments import FakeUPayments
from kwq8.payments.upayments import PRODUCTION_BASE_URL, SANDBOX_BASE_URL
from kwq8.pgserver import LOCAL_PASSWORD, free_port
from kwq8.postgrest import Identity
from kwq8.service.config import ConfigError, ServiceSettings
from kwq8.stack import Stack
from kwq8.testing.database import TestDatabase
from kwq8.testing.plugin import TEMPLATE_DB

from ..conftest import ROOT, run_cli
from ..service_helpers import API_KEY, API_SECRET, JWT_SECRET, clear_rate_limits, token

pytest_plugins = ("tests.service_fixtures",)

BASE = {
    "KWQ8_SERVICE_DB_URL": "postgresql://postgres:pw@127.0.0.1:5432/postgres",
    "SUPABASE_JWT_SECRET": JWT_SECRET,
    "UPAYMENTS_API_KEY": API_KEY,
    "PUBLIC_BASE_URL": "https://api.kwq8.com/",
}
SERVICE_VARS = (
    "KWQ8_SERVICE_DB_URL",
    "SUPABASE_JWT_SECRET",
    "SUPABASE_JWKS_URL",
    "UPAYMENTS_API_KEY",
    "UPAYMENTS_API_SECRET",
    "UPAYMENTS_WEBHOOK_SECRET",
    "PUBLIC_BASE_URL",
    "UPAYMENTS_ENV",
    "UPAYMENTS_BASE_URL",
)


def test_missing_variables_are_all_named() -> None:
    with pytest.raises(ConfigError) as info:
        ServiceSettings.from_env({})
    assert str(info.value) == (
        "missing environment variable(s): KWQ8_SERVICE_DB_URL; SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL; "
        "UPAYMENTS_API_KEY; PUBLIC_BASE_URL"
    )
    with pytest.raises(ConfigError, match=r"missing environment variable.*UPAYMENTS_WEBHOOK_SECRET"):
        ServiceSettings.from_env({**BASE, "UPAYMENTS_ENV": "production"})


def test_sandbox_and_production_settings() -> None:
    sandbox = ServiceSettings.from_env(BASE)
    assert sandbox.upayments.base_url == SANDBOX_BASE_URL and sandbox.environment == "sandbox"
    assert sandbox.notification_url == "https://api.kwq8.com/billing/webhooks/upayments"
    assert sandbox.webhook_secret is None and sandbox.db_role == "service_role"
    production = ServiceSettings.from_env(
        {
            **BASE,
            "UPAYMENTS_ENV": "production",
            "UPAYMENTS_API_SECRET": API_SECRET,
            "KWQ8_RATE_CHECKOUT_PER_USER": "3",
            "UPAYMENTS_TIMEOUT_S": "4.5",
        }
    )
    assert production.upayments.base_url == PRODUCTION_BASE_URL and production.webhook_secret == API_SECRET
    assert production.rate_checkout_per_user == 3 and production.upayments.timeout_s == 4.5
    unsigned = ServiceSettings.from_env({**BASE, "UPAYMENTS_ALLOW_UNSIGNED_WEBHOOKS": "1"})
    assert unsigned.webhook_secret is None and unsigned.allow_unsigned_webhooks
    # Production never runs without a webhook secret, whatever else is set.
    for extra in ({}, {"UPAYMENTS_ALLOW_UNSIGNED_WEBHOOKS": "1"}):
        with pytest.raises(ConfigError, match="UPAYMENTS_WEBHOOK_SECRET"):
            ServiceSettings.from_env({**BASE, "UPAYMENTS_ENV": "production", **extra})
    for settings in (sandbox, production):
        for secret in (API_KEY, API_SECRET, JWT_SECRET, "pw@"):
            assert secret not in repr(settings)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"SUPABASE_JWT_SECRET": "short"}, "SUPABASE_JWT_SECRET"),
        ({"UPAYMENTS_ENV": "staging"}, "UPAYMENTS_ENV"),
        ({"PUBLIC_BASE_URL": "http://api.kwq8.com"}, "PUBLIC_BASE_URL"),
        (
            {"UPAYMENTS_ENV": "production", "UPAYMENTS_API_SECRET": "s", "PUBLIC_BASE_URL": "http://127.0.0.1:8000"},
            "PUBLIC_BASE_URL",
        ),
        ({"SUPABASE_JWKS_URL": "http://auth.example.com/jwks.json"}, "SUPABASE_JWKS_URL"),
        ({"KWQ8_RATE_IP_PER_WINDOW": "0"}, "KWQ8_RATE_IP_PER_WINDOW"),
        ({"KWQ8_MAX_BODY_BYTES": "lots"}, "KWQ8_MAX_BODY_BYTES"),
        ({"UPAYMENTS_BASE_URL": "http://evil.example.com/api/v1/"}, "UPAYMENTS_BASE_URL"),
        ({"UPAYMENTS_TIMEOUT_S": "999"}, "UPAYMENTS_TIMEOUT_S"),
    ],
)
def test_invalid_values_are_named_never_shown(change: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as info:
        ServiceSettings.from_env({**BASE, **change})
    assert named in str(info.value)
    for value in change.values():
        if len(value) > 3 and value != "production":
            assert value not in str(info.value)


def test_serve_refuses_to_start_without_its_secrets() -> None:
    env = {name: "" for name in SERVICE_VARS}
    env["UPAYMENTS_API_KEY"] = "sk-do-not-print-me"
    result = run_cli("serve", env=env, timeout=60)
    assert result.code == 2
    assert "KWQ8_SERVICE_DB_URL" in result.stderr and "PUBLIC_BASE_URL" in result.stderr
    assert "Traceback" not in result.stderr and "sk-do-not-print-me" not in result.stderr + result.stdout
    unreachable = run_cli(
        "serve", env={**env, **BASE, "KWQ8_SERVICE_DB_URL": "postgresql://postgres:pw@127.0.0.1:1/x"}, timeout=60
    )
    assert unreachable.code == 2 and "database" in unreachable.stderr and "Traceback" not in unreachable.stderr


def _serve(billing_db: TestDatabase, fake: FakeUPayments, *, colour: bool = False) -> tuple[subprocess.Popen[str], str]:
    """`kwq8 serve` as a process on a free port, against the test database and the fake; its origin."""
    port = free_port()
    # Without domain settings, whatever the calling shell has: the domain routes stay unconfigured.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("NAMECHEAP_", "VERCEL_", "KWQ8_DOMAIN_"))}
    env = {
        **inherited,
        **{name: "" for name in SERVICE_VARS},
        **BASE,
        "KWQ8_SERVICE_DB_URL": billing_db.url("postgres"),
        "UPAYMENTS_BASE_URL": fake.base_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "NO_COLOR": "1",
    }
    if colour:
        env.pop("NO_COLOR")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kwq8", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def test_serve_runs_the_service(billing_db: TestDatabase, fake_upayments: FakeUPayments) -> None:
    fake_upayments.reset()
    clear_rate_limits(billing_db)
    proc, origin = _serve(billing_db, fake_upayments)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(origin + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
            time.sleep(0.1)
        user: Identity = billing_db.create_user()
        response = httpx.post(
            origin + "/billing/checkout",
            json={"plan": "pro", "payment_method": "knet"},
            headers={"Authorization": f"Bearer {token(user)}"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["payment_url"].startswith(fake_upayments.origin)
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    logged = [line for line in stderr.splitlines() if line.startswith("{")]
    assert any('"msg": "checkout created"' in line for line in logged), stderr
    assert API_KEY not in stderr and JWT_SECRET not in stderr


@pytest.fixture
def own_billing_db(kwq8_stack: Stack) -> Iterator[TestDatabase]:
    """A billing database of this test's own: it is cut off from its clients mid-test."""
    name = f"svcready_{uuid.uuid4().hex[:8]}"
    kwq8_stack.create_database(name, template=TEMPLATE_DB)
    db = TestDatabase(kwq8_stack.port, name, schemas=tuple(kwq8_stack.project.exposed_schemas))
    try:
        yield db
    finally:
        db.close()
        kwq8_stack.drop_database(name)


def test_readyz_follows_the_database_while_healthz_stays_live_and_logs_have_no_ansi(
    own_billing_db: TestDatabase, fake_upayments: FakeUPayments
) -> None:
    billing_db = own_billing_db
    # uvicorn colours its messages unless told not to: the JSON lines must not carry them.
    proc, origin = _serve(billing_db, fake_upayments, colour=True)
    port = int(origin.rsplit(":", 1)[1])
    name = billing_db.name
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                ready = httpx.get(origin + "/readyz", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
                time.sleep(0.1)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "upayments": "ok"}
        # The test server has no Namecheap or Vercel settings: reported, yet still ready.
        assert ready.json()["domains"] == {"sales": "not configured", "connect": "not configured"}

        busy = run_cli(
            "serve", "--port", str(port), env={**BASE, "KWQ8_SERVICE_DB_URL": billing_db.url("postgres")}, timeout=60
        )
        assert busy.code == 3 and f"port {port} on 127.0.0.1 is already in use by pid {proc.pid}" in busy.stderr
        assert "Traceback" not in busy.stderr

        # The database goes away: readiness says so, liveness does not.
        with connect(
            make_url("supabase_admin", LOCAL_PASSWORD, "127.0.0.1", billing_db.port, "postgres"), autocommit=True
        ) as admin:
            admin.execute(f'alter database "{name}" with allow_connections false')
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = %s and application_name = 'kwq8-billing'",
                (name,),
            )
        gone = httpx.get(origin + "/readyz", timeout=10)
        assert gone.status_code == 503 and gone.json()["checks"]["database"].startswith("unavailable")
        assert httpx.get(origin + "/healthz", timeout=5).status_code == 200
    finally:
        with connect(
            make_url("supabase_admin", LOCAL_PASSWORD, "127.0.0.1", billing_db.port, "postgres"), autocommit=True
        ) as admin:
            admin.execute(f'alter database "{name}" with allow_connections true')
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    logged = [line for line in stderr.splitlines() if line.startswith("{")]
    assert any("Uvicorn running" in line for line in logged), stderr
    assert "color_message" not in stderr and "\x1b[" not in stderr
