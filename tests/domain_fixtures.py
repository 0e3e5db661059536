"""Fixtures of the domain tests; modules load them with ``pytest_plugins = ("tests.domain_fixtures",)``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kwq8.domains.fake_namecheap import FakeNamecheap
from kwq8.domains.fake_vercel import FakeVercel
from kwq8.service.db import BillingDb
from kwq8.testing.database import TestDatabase

from .domain_helpers import DomainEnv


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeNamecheap, FakeVercel]]:
    with FakeNamecheap() as namecheap, FakeVercel() as vercel:
        yield namecheap, vercel


@pytest.fixture
def env(kwq8_db: TestDatabase, fakes: tuple[FakeNamecheap, FakeVercel]) -> Iterator[DomainEnv]:
    namecheap, vercel = fakes
    namecheap.reset()
    vercel.reset()
    vercel.resolver = namecheap.dns
    # No throttling unless a test asks for it.
    kwq8_db.sql(
        "update domains.settings set calls_per_minute = 100000, calls_per_hour = 100000, calls_per_day = 100000"
    )
    billing = BillingDb(kwq8_db.url("postgres"), pool_size=12)
    billing.open()
    try:
        yield DomainEnv(db=kwq8_db, billing=billing, namecheap=namecheap, vercel=vercel)
    finally:
        billing.close()
