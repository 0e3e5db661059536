"""Helpers for the billing service tests: the app on a real socket (uvicorn), over a fresh test
database, talking to a local fake of UPayments (fixtures in tests/service_fixtures.py)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
import jwt
import uvicorn

from kwq8.payments.fake_upayments import FakeUPayments, LocalServer, WebhookDelivery
from kwq8.payments.upayments import UPaymentsClient, UPaymentsConfig
from kwq8.postgrest import Identity
from kwq8.service.app import create_app
from kwq8.service.config import ServiceSettings
from kwq8.service.server import guarded_server
from kwq8.testing.database import TestDatabase

JWT_SECRET = "kwq8-test-jwt-secret-that-is-long-enough-0001"
API_KEY = "upay_live_TESTKEY_7f3a9c2e51d84b60"
API_SECRET = "upay_secret_TESTSECRET_0c9d8e7f6a5b4c3d"
PUBLIC_BASE_URL = "https://billing.kwq8.test"
NOTIFICATION_URL = PUBLIC_BASE_URL + "/billing/webhooks/upayments"


def token(user: Identity, *, secret: str = JWT_SECRET, expires_in: int = 3600, **claims: Any) -> str:
    payload: dict[str, Any] = {
        "sub": user.user_id,
        "role": "authenticated",
        "aud": "authenticated",
        "email": (user.claims or {}).get("email"),
        "iat": int(time.time()),
        "exp": int(time.time()) + expires_in,
        "is_anonymous": False,
    }
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm="HS256")


def make_settings(db: TestDatabase, fake: FakeUPayments, **overrides: Any) -> ServiceSettings:
    settings = ServiceSettings(
        db_url=db.url("postgres"),
        upayments=UPaymentsConfig(api_key=API_KEY, base_url=fake.base_url, api_secret=API_SECRET, timeout_s=0.5),
        public_base_url=PUBLIC_BASE_URL,
        jwt_secret=JWT_SECRET,
        webhook_secret=API_SECRET,
        return_url="https://kwq8.test/billing/return",
        cancel_url="https://kwq8.test/billing/cancel",
        allowed_origins=("https://kwq8.test",),
        db_pool_size=8,
    )
    return settings.replace(**overrides)


@dataclass
class Service:
    db: TestDatabase
    fake: FakeUPayments
    settings: ServiceSettings
    server: LocalServer
    app: Any
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10.0))

    @property
    def origin(self) -> str:
        return self.server.origin

    def auth(self, user: Identity, **claims: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {token(user, **claims)}"}

    def checkout(
        self, user: Identity, plan: str = "basic", method: str | None = "knet", *, key: str | None = None, **body: Any
    ) -> httpx.Response:
        # A fresh Idempotency-Key per call, as the frontend sends one per checkout intent;
        # key="" sends none (the service then deduplicates by user and purchase).
        headers = self.auth(user)
        if key is None:
            key = str(uuid.uuid4())
        if key:
            headers["Idempotency-Key"] = key
        payload = {"plan": plan, **({"payment_method": method} if method else {}), **body}
        return self.http.post(self.origin + "/billing/checkout", json=payload, headers=headers)

    def deliver(self, delivery: WebhookDelivery, *, client: httpx.Client | None = None) -> httpx.Response:
        """POST a webhook to the service as UPayments would: signed over the public URL."""
        return (client or self.http).post(
            self.origin + "/billing/webhooks/upayments", content=delivery.body, headers=delivery.headers
        )

    def webhook(self, track_id: str, result: str | None = None, **kwargs: Any) -> WebhookDelivery:
        return self.fake.build_webhook(NOTIFICATION_URL, API_SECRET, track_id, result=result, **kwargs)

    def track_id(self, order_id: str) -> str:
        value = self.db.scalar("select track_id from public.payments where order_id = %s", (order_id,))
        assert value, f"no track id for {order_id}"
        return str(value)

    def payment(self, order_id: str) -> dict[str, Any]:
        return self.db.sql("select * from public.payments where order_id = %s", (order_id,))[0]

    def grants(self, order_id: str) -> int:
        return int(
            self.db.scalar(
                "select count(*) from public.credit_transactions where idempotency_key = %s",
                ("srv:payment:" + order_id,),
            )
        )

    def monthly_credits(self, user: Identity) -> Decimal:
        return Decimal(
            self.db.scalar(
                "select coalesce(sum(remaining), 0) from billing.grants where user_id = %s and source = 'monthly'",
                (user.user_id,),
            )
        )


def clear_rate_limits(db: TestDatabase) -> None:
    """Forget every rate and status-budget counter of the test database."""
    db.sql("delete from ratelimit.rate_limits")


def guarded(app: Any, settings: ServiceSettings) -> uvicorn.Server:
    """The server `kwq8 serve` runs, with the test process's logging left alone."""
    return guarded_server(app, settings.server_limits(), log_level="warning", lifespan="off")


def start_service(db: TestDatabase, fake: FakeUPayments, **overrides: Any) -> Service:
    """The app with these settings, served by uvicorn on a free port. Stop it with stop_service."""
    settings = make_settings(db, fake, **overrides)
    client = UPaymentsClient(settings.upayments, backoff_s=0.01, max_attempts=2)
    app = create_app(settings, upayments=client)
    server = LocalServer(app, server_factory=lambda app: guarded(app, settings)).start()
    return Service(db=db, fake=fake, settings=settings, server=server, app=app)


def stop_service(service: Service) -> None:
    service.http.close()
    service.server.stop()
    service.app.state.service.close()
