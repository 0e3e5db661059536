"""Fixtures of the billing service tests; test modules load them with
``pytest_plugins = ("tests.service_fixtures",)``.

A fresh database costs almost a second to clone and drop, so the service tests share one
database and one running app for the session, and isolate by data instead: every test works
with its own users, orders and (for IP limits) its own client address.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from kwq8.payments.fake_upayments import FakeUPayments
from kwq8.postgrest import Identity
from kwq8.stack import Stack
from kwq8.testing.database import TestDatabase
from kwq8.testing.plugin import TEMPLATE_DB

from .service_helpers import API_KEY, Service, clear_rate_limits, start_service, stop_service


@pytest.fixture(scope="session")
def fake_upayments() -> Iterator[FakeUPayments]:
    with FakeUPayments(API_KEY) as fake:
        yield fake


@pytest.fixture(scope="session")
def billing_db(kwq8_stack: Stack) -> Iterator[TestDatabase]:
    name = f"svc_{uuid.uuid4().hex[:10]}"
    kwq8_stack.create_database(name, template=TEMPLATE_DB)
    kwq8_stack.configure_database(name, test_clock=True)
    db = TestDatabase(kwq8_stack.port, name, schemas=tuple(kwq8_stack.project.exposed_schemas))
    # UPayments' merchant-wide 30 status calls a minute would throttle the suite; the tests of
    # that budget lower it themselves.
    db.sql("update payments.settings set status_calls_per_minute = 1000")
    try:
        yield db
    finally:
        db.close()
        kwq8_stack.drop_database(name)


@pytest.fixture(scope="session")
def shared_service(billing_db: TestDatabase, fake_upayments: FakeUPayments) -> Iterator[Service]:
    # Limits high enough that no test trips them by accident, and every refresh asks UPayments;
    # tests/service/test_service_limits.py and tests/service/test_service_availability.py start instances with
    # the defaults or low ones.
    running = start_service(
        billing_db,
        fake_upayments,
        rate_ip_per_window=100_000,
        rate_webhook_per_ip=100_000,
        rate_checkout_per_user=1000,
        rate_rejected_webhooks_per_ip=100_000,
        status_fresh_s=0,
        trusted_proxy_hops=1,
    )
    try:
        yield running
    finally:
        stop_service(running)


@pytest.fixture
def service(shared_service: Service) -> Service:
    # Fresh limiter state, in memory and in Postgres: the rate counters are shared by every
    # instance on this database, so one test's requests from 127.0.0.1 would count against the
    # next test's instance with default limits.
    shared_service.fake.reset()
    shared_service.app.state.service.reset_local_state()
    clear_rate_limits(shared_service.db)
    return shared_service


@pytest.fixture
def customer(billing_db: TestDatabase) -> Identity:
    return billing_db.create_user(f"{uuid.uuid4().hex[:8]}@example.kw")
