"""NUL and other control characters in RPC text arguments: a 400 with a code, nothing written.

NUL cannot reach a function at all: PostgREST (and tests/…/postgrest.py's Api) hands the JSON
body to json_to_record, and PostgreSQL refuses to turn ``\\u0000`` into text (22P05, HTTP 400).
Other control characters reach the functions, which refuse them with VAL_002; tab and line
breaks are ordinary text.
"""

from __future__ import annotations

from typing import Any

import pytest

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import SERVICE, expect_error, grant, key, ledger_count

pytest_plugins = ("tests.credit_fixtures",)

HOSTILE = [
    ("\u0000", "22P05"),
    ("a\u0000b", "22P05"),
    ("bell\u0007", "VAL_002"),
    ("\u001b[31m", "VAL_002"),
    ("del\u007f", "VAL_002"),
    ("c1\u0085", "VAL_002"),
]


def calls(user: Identity, text: str, spend_tx: str) -> list[tuple[str, dict[str, Any], Identity]]:
    return [
        ("spend_credits", {"action": "chat_message", "idempotency_key": key(), "description": text}, user),
        (
            "deduct_credits",
            {"user_id": user.user_id, "amount": "1", "description": text, "idempotency_key": key()},
            SERVICE,
        ),
        (
            "grant_credits",
            {
                "user_id": user.user_id,
                "amount": "1",
                "source": "promo",
                "expires_at": None,
                "idempotency_key": key(),
                "description": text,
            },
            SERVICE,
        ),
        (
            "refund_transaction",
            {"user_id": user.user_id, "transaction_id": spend_tx, "idempotency_key": key(), "reason": text},
            SERVICE,
        ),
    ]


@pytest.mark.parametrize(("text", "code"), HOSTILE)
def test_control_characters_in_free_text_are_refused(db: TestDatabase, user: Identity, text: str, code: str) -> None:
    grant(db, user, 10)
    spend = db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    before = ledger_count(db, user)
    for function, args, identity in calls(user, text, spend["transaction_id"]):
        expect_error(lambda f=function, a=args, i=identity: db.rpc(f, a, as_=i), code, 400)
    assert ledger_count(db, user) == before


@pytest.mark.parametrize(("text", "code"), [("\u0000", "22P05"), ("k\u0000", "22P05"), ("k\u0007", "CREDIT_006")])
def test_control_characters_in_idempotency_keys_are_refused(
    db: TestDatabase, user: Identity, text: str, code: str
) -> None:
    grant(db, user, 10)
    before = ledger_count(db, user)
    for function, args in (
        ("spend_credits", {"action": "chat_message", "idempotency_key": text}),
        ("reserve_credits", {"action": "chat_message", "idempotency_key": text}),
    ):
        expect_error(lambda f=function, a=args: db.rpc(f, a, as_=user), code, 400)
    assert ledger_count(db, user) == before


def test_tabs_and_line_breaks_are_ordinary_text(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 10)
    text = "سطر أول\nسطر ثان\tمع جدولة\r\n"
    spend = db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key(), "description": text}, as_=user)
    stored = db.scalar("select description from public.credit_transactions where id = %s", (spend["transaction_id"],))
    assert stored == text
