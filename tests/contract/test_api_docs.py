"""docs/api.md: every RPC has an example, and every example still answers what the page shows
when it runs again on a freshly migrated and seeded database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from kwq8.contract import api_md, catalog
from kwq8.contract.api_examples import EXAMPLES
from kwq8.db import connect
from kwq8.stack import Stack
from kwq8.testing.database import TestDatabase

ROOT = Path(__file__).resolve().parents[2]
API_MD = ROOT / "docs" / "api.md"


@pytest.fixture(scope="module")
def seeded(kwq8_stack: Stack) -> Iterator[psycopg.Connection[Any]]:
    """A database prepared as `kwq8 gen types` prepares its scratch one: migrated and seeded,
    with none of the test template's settings."""
    name = f"api_{uuid.uuid4().hex[:12]}"
    kwq8_stack.create_database(name)
    try:
        kwq8_stack.prepare_database(name, seed=True)
        with connect(kwq8_stack.url("postgres", name), autocommit=True) as conn:
            yield conn
    finally:
        kwq8_stack.drop_database(name)


def test_every_rpc_has_an_example_and_every_example_an_rpc(kwq8_tx: TestDatabase) -> None:
    with kwq8_tx.connect("postgres") as conn:
        cat = catalog.read(conn)
    rpcs = {fn.name for fn in cat.rpcs}
    assert len(rpcs) > 30
    assert api_md.missing_examples(cat) == []
    assert sorted(set(EXAMPLES) - rpcs) == []


def test_docs_api_md_shows_every_rpc_with_its_example() -> None:
    shown = api_md.shown_outputs(API_MD.read_text())
    assert sorted(shown) == sorted(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_example_answers_what_docs_api_md_shows(seeded: psycopg.Connection[Any], name: str) -> None:
    shown = api_md.shown_outputs(API_MD.read_text())
    assert api_md.run(seeded, name, EXAMPLES[name]) == shown[name]


def test_values_that_vary_are_normalised_per_example() -> None:
    normalise = api_md.Normaliser()
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    text = f"{first} {second} {first} 5eed0000-0000-4000-8000-000000000001 kwq8_{uuid.uuid4().hex}"
    assert normalise(text) == "<uuid-1> <uuid-2> <uuid-1> 5eed0000-0000-4000-8000-000000000001 kwq8_<hex-1>"
    assert normalise('("2026-12-06 20:47:38.759747+00",2026-12-06)') == '("<timestamptz>",<date>)'
