"""Fixtures of the credit and payment SQL tests; test modules load them with
``pytest_plugins = ("tests.credit_fixtures",)``.

Each test works in one rolled-back transaction with the credit clock frozen at NOW (12:00 in
Kuwait), so Kuwait-midnight and expiry rules are fixed points rather than wall-clock guesses.
"""

from __future__ import annotations

import pytest

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from .credit_helpers import NOW


@pytest.fixture
def db(kwq8_tx: TestDatabase) -> TestDatabase:
    kwq8_tx.freeze_time(NOW)
    return kwq8_tx


@pytest.fixture
def user(db: TestDatabase) -> Identity:
    return db.create_user()
