"""Fixtures and helpers of the tests that talk to the local fake of UPayments on committed
databases: the fake (reset per test), a client of it, and the database client the jobs use. Modules load them with
``pytest_plugins = ("tests.service_fixtures", "tests.upayments_fixtures")``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kwq8.payments.fake_upayments import FakeUPayments
from kwq8.payments.upayments import UPaymentsClient, UPaymentsConfig
from kwq8.service.db import BillingDb
from kwq8.testing.database import TestDatabase

from .service_helpers import API_KEY, API_SECRET


@pytest.fixture
def fake(fake_upayments: FakeUPayments) -> FakeUPayments:
    fake_upayments.reset()
    return fake_upayments


@pytest.fixture
def client(fake: FakeUPayments) -> Iterator[UPaymentsClient]:
    with UPaymentsClient(
        UPaymentsConfig(api_key=API_KEY, base_url=fake.base_url, api_secret=API_SECRET, timeout_s=2.0)
    ) as upayments:
        yield upayments


@pytest.fixture
def billing(kwq8_db: TestDatabase) -> Iterator[BillingDb]:
    db = BillingDb(kwq8_db.url("postgres"), role="service_role", pool_size=2)
    db.open()
    try:
        yield db
    finally:
        db.close()
