"""Credit calls whose transaction began before another one committed (docs/credits.md, *Time*).

Each test drives two sessions the way PostgREST runs a request: session 1 opens its transaction
(BEGIN, then one statement of set_config calls for role and claims), session 2 commits a change
for the same user meanwhile, and only then does session 1 make its call. Session 1's now() is
therefore earlier than everything session 2 wrote.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from kwq8.postgrest import Api, ApiError, Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import SERVICE, audit_clean, balance, grant, key, subscribe

Call = Callable[[str, dict[str, Any]], Any]


def api_at(db: TestDatabase, frozen: str | None) -> Api:
    api = db.api()
    if frozen is not None:
        api.settings["kwq8.frozen_now"] = frozen
    return api


@contextmanager
def in_flight(db: TestDatabase, identity: Identity, frozen: str | None = None) -> Iterator[Call]:
    """Session 1: a request whose transaction is open (role and claims set) but whose RPC has
    not run yet; the yielded function makes the call, once, inside that same transaction."""
    api = api_at(db, frozen)
    with api.request(identity, path="/rpc/") as cur:

        def call(function: str, args: dict[str, Any]) -> Any:
            names = ", ".join(f"{name} := %({name})s" for name in args)
            # As PostgREST answers: the result as JSON (a composite for the credit RPCs).
            cur.execute(f"select to_jsonb(public.{function}({names}))::text", args)
            row = cur.fetchone()
            return None if row is None or row[0] is None else json.loads(row[0], parse_float=Decimal)

        yield call


def live_spendable(db: TestDatabase, user: Identity) -> Decimal:
    """What a fresh request can spend: the whole balance, drawn in one deduct."""
    amount = balance(db, user)
    if amount > 0:
        db.rpc(
            "deduct_credits",
            {"user_id": user.user_id, "amount": str(amount), "description": "all", "idempotency_key": key()},
            as_=SERVICE,
        )
    return amount


@pytest.mark.parametrize(
    ("function", "as_user", "args", "charged"),
    [
        ("spend_credits", True, {"action": "chat_message"}, Decimal("1.00")),
        ("deduct_credits", False, {"amount": "1", "description": "x"}, Decimal("1.00")),
        ("reserve_credits", True, {"action": "page_generation"}, Decimal("3.00")),
    ],
)
def test_a_grant_committed_during_the_request_is_spendable(
    kwq8_db: TestDatabase, function: str, as_user: bool, args: dict[str, Any], charged: Decimal
) -> None:
    user = kwq8_db.create_user()
    call_args = {**args, "idempotency_key": "d1"}
    if not as_user:
        call_args["user_id"] = user.user_id
    with in_flight(kwq8_db, user if as_user else SERVICE) as call:
        grant(kwq8_db, user, 10, idempotency_key="g1")
        result = call(function, call_args)
    assert result["balance"] == Decimal(10) - charged
    assert result.get("charged", result.get("amount")) == charged
    audit_clean(kwq8_db)
    assert live_spendable(kwq8_db, user) == Decimal(10) - charged
    audit_clean(kwq8_db)


def test_a_daily_bonus_granted_by_a_later_day_is_spendable_by_a_request_begun_the_day_before(
    kwq8_db: TestDatabase,
) -> None:
    """Session 2's call is the first of a new Kuwait day (its bonus replaces yesterday's); the
    request begun a moment before midnight then spends from the new day's bonus."""
    user = kwq8_db.create_user()
    subscribe(kwq8_db, user, "basic", "2026-05-01", "2026-06-01")
    kwq8_db.freeze_time("2026-05-10T20:59:00+00:00")
    kwq8_db.rpc("get_credit_summary", {}, as_=user)  # 10 May's bonus: 5, expiring at midnight
    with in_flight(kwq8_db, user, frozen="2026-05-10T20:59:59+00:00") as call:
        api_at(kwq8_db, "2026-05-10T21:00:01+00:00").rpc("get_credit_summary", {}, as_=user)
        result = call("spend_credits", {"action": "chat_message", "idempotency_key": key()})
    assert result["balance"] == 4
    assert kwq8_db.scalar("select daily_bonus_day::text from public.users where id = %s", (user.user_id,)) == (
        "2026-05-11"
    )
    audit_clean(kwq8_db)


def assert_expired_at_next_call(db: TestDatabase, user: Identity, at: str) -> None:
    """At `at`, past the grant's expiry, nothing is spendable and the next call expires it all."""
    audit_clean(db)
    later = api_at(db, at)
    with pytest.raises(ApiError) as refused:
        later.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    assert refused.value.code == "CREDIT_001"
    assert later.rpc("get_credit_summary", {}, as_=user)["balance"] == 0  # expired, with its entry
    audit_clean(db)


def test_a_refund_begun_before_its_grant_expired_leaves_nothing_spendable_past_the_expiry(
    kwq8_db: TestDatabase,
) -> None:
    """Session 2 expires the grant at 10:10; the refund begun at 10:01 gives its credits back into
    that grant. They must expire at the user's next call, not stay counted but unspendable."""
    user = kwq8_db.create_user()
    kwq8_db.freeze_time("2026-05-10T10:00:00+00:00")
    grant(kwq8_db, user, 5, expires_at="2026-05-10T10:05:00+00:00")
    spend = kwq8_db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)
    with in_flight(kwq8_db, SERVICE, frozen="2026-05-10T10:01:00+00:00") as call:
        api_at(kwq8_db, "2026-05-10T10:10:00+00:00").rpc("get_credit_summary", {}, as_=user)
        refund = call(
            "refund_transaction",
            {
                "user_id": user.user_id,
                "transaction_id": spend["transaction_id"],
                "idempotency_key": key(),
                "reason": "GEN_001",
            },
        )
    assert refund["refunded"] == 3
    assert_expired_at_next_call(kwq8_db, user, "2026-05-10T10:12:00+00:00")


@pytest.mark.parametrize(
    ("function", "amount", "released"),
    [("capture_hold", "1", Decimal(3)), ("release_hold", None, Decimal(4))],
)
def test_a_hold_resolved_by_a_call_begun_before_its_grant_expired_leaves_nothing_spendable(
    kwq8_db: TestDatabase, function: str, amount: str | None, released: Decimal
) -> None:
    """The hold's credits (a capture's unused remainder, or all of them) go back to a grant that
    session 2 has expired meanwhile."""
    user = kwq8_db.create_user()
    kwq8_db.freeze_time("2026-05-10T10:00:00+00:00")
    grant(kwq8_db, user, 4, expires_at="2026-05-10T10:05:00+00:00")
    hold = kwq8_db.rpc("reserve_credits", {"action": "complex_feature", "idempotency_key": key()}, as_=user)
    args = {"user_id": user.user_id, "hold_id": hold["hold_id"]} | ({"amount": amount} if amount else {})
    with in_flight(kwq8_db, SERVICE, frozen="2026-05-10T10:01:00+00:00") as call:
        api_at(kwq8_db, "2026-05-10T10:08:00+00:00").rpc("get_credit_summary", {}, as_=user)
        result = call(function, args)
    assert result["released"] == released
    assert_expired_at_next_call(kwq8_db, user, "2026-05-10T10:09:00+00:00")


def test_sweepers_begun_before_new_grants_and_holds_leave_them_alone(kwq8_db: TestDatabase) -> None:
    """The sweeper's transaction began before session 2 granted credits and reserved a hold: it
    releases only what had expired, and what session 2 wrote stays whole and spendable."""
    user = kwq8_db.create_user()
    kwq8_db.freeze_time("2026-05-10T10:00:00+00:00")
    grant(kwq8_db, user, 3, expires_at="2026-05-10T10:30:00+00:00")
    old_hold = kwq8_db.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)
    with in_flight(kwq8_db, SERVICE, frozen="2026-05-10T10:20:00+00:00") as call:
        session2 = api_at(kwq8_db, "2026-05-10T10:21:00+00:00")
        session2.rpc(
            "grant_credits",
            {"user_id": user.user_id, "amount": "10", "source": "promo", "expires_at": None, "idempotency_key": "g1"},
            as_=SERVICE,
        )
        new_hold = session2.rpc("reserve_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
        swept = call("run_credit_sweepers", {})
    assert swept == {"holds_released": 0, "grants_expired": 0}  # session 2's upkeep did it first
    rows = kwq8_db.sql("select id::text, status from billing.holds where user_id = %s", (user.user_id,))
    assert {row["id"]: row["status"] for row in rows} == {old_hold["hold_id"]: "expired", new_hold["hold_id"]: "active"}
    audit_clean(kwq8_db)
    assert balance(kwq8_db, user) == 12
    audit_clean(kwq8_db)
