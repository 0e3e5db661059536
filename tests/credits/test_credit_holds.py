"""Holds, captures, releases, expiry, sweepers, grants and refunds (trusted-server functions)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import SERVICE, audit_clean, balance, expect_error, grant, key, ledger_count

pytest_plugins = ("tests.credit_fixtures",)


@pytest.fixture
def user(db: TestDatabase) -> Identity:
    u = db.create_user()
    grant(db, u, 20)
    return u


def reserve(db: TestDatabase, user: Identity, action: str = "page_generation", k: str | None = None) -> dict:
    return db.rpc("reserve_credits", {"action": action, "idempotency_key": k or key()}, as_=user)


def test_reserve_then_capture_less_releases_the_rest(db: TestDatabase, user: Identity) -> None:
    k = key()
    hold = reserve(db, user, "complex_feature", k)
    assert hold["amount"] == Decimal("4.00") and hold["balance"] == Decimal("16.00")
    assert hold["expires_at"] == "2026-05-10T09:15:00+00:00"
    assert reserve(db, user, "complex_feature", k) == hold  # retry: same hold
    summary = db.rpc("get_credit_summary", {}, as_=user)
    assert summary["held"] == Decimal("4.00") and summary["active_holds"][0]["hold_id"] == hold["hold_id"]
    captured = db.rpc(
        "capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": "2.5"}, as_=SERVICE
    )
    assert captured["charged"] == Decimal("2.50") and captured["released"] == Decimal("1.50")
    assert captured["balance"] == Decimal("17.50") == balance(db, user)
    assert (
        db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": 2.5}, as_=SERVICE)
        == captured
    )
    entries = ledger_count(db, user)
    expect_error(
        lambda: db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": 1}, as_=SERVICE),
        "CREDIT_008",
        409,
    )
    expect_error(
        lambda: db.rpc("release_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE),
        "CREDIT_008",
        409,
    )
    assert ledger_count(db, user) == entries
    assert db.rpc("get_credit_summary", {}, as_=user)["active_holds"] == []
    audit_clean(db)


def test_capture_all_by_default_and_release_is_idempotent(db: TestDatabase, user: Identity) -> None:
    full = db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": reserve(db, user)["hold_id"]}, as_=SERVICE)
    assert (full["charged"], full["released"]) == (Decimal("3.00"), Decimal("0"))
    hold = reserve(db, user)
    released = db.rpc("release_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE)
    assert released["released"] == Decimal("3.00") and released["status"] == "released"
    assert db.rpc("release_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE) == released
    expect_error(
        lambda: db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE),
        "CREDIT_008",
        409,
    )
    assert balance(db, user) == Decimal("17.00")
    audit_clean(db)


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("3.01", "CREDIT_010"),
        ("-1", "CREDIT_010"),
        ("NaN", "CREDIT_010"),
        ("0.001", "CREDIT_010"),
        ("1e30", "CREDIT_010"),
    ],
)
def test_bad_capture_amounts(db: TestDatabase, user: Identity, amount: str, code: str) -> None:
    hold = reserve(db, user)
    before = ledger_count(db, user)
    expect_error(
        lambda: db.rpc(
            "capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": amount}, as_=SERVICE
        ),
        code,
        400,
    )
    assert ledger_count(db, user) == before
    assert db.scalar("select status from billing.holds where id = %s", (hold["hold_id"],)) == "active"


def test_unknown_or_missing_hold(db: TestDatabase, user: Identity) -> None:
    for args in (
        {"user_id": user.user_id, "hold_id": "00000000-0000-0000-0000-000000000000"},
        {"user_id": user.user_id, "hold_id": None},
    ):
        expect_error(lambda a=args: db.rpc("capture_hold", a, as_=SERVICE), "CREDIT_007", 404)
        expect_error(lambda a=args: db.rpc("release_hold", a, as_=SERVICE), "CREDIT_007", 404)
    expect_error(
        lambda: db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": "not-a-uuid"}, as_=SERVICE), "22P02", 400
    )


def test_capture_zero_releases_everything(db: TestDatabase, user: Identity) -> None:
    hold = reserve(db, user)
    result = db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": 0}, as_=SERVICE)
    assert (result["charged"], result["released"], result["balance"]) == (0, Decimal("3.00"), Decimal("20.00"))
    audit_clean(db)


def test_expired_hold_releases_itself_on_next_access(db: TestDatabase, user: Identity) -> None:
    hold = reserve(db, user)
    db.freeze_time("2026-05-10T09:14:59+00:00")
    assert db.rpc("get_credit_summary", {}, as_=user)["held"] == Decimal("3.00")
    db.freeze_time("2026-05-10T09:15:00+00:00")
    summary = db.rpc("get_credit_summary", {}, as_=user)
    assert summary["held"] == 0 and summary["balance"] == Decimal("20.00")
    expect_error(
        lambda: db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE),
        "CREDIT_009",
        410,
    )
    assert (
        db.rpc("release_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE)["status"]
        == "expired"
    )
    assert (
        db.scalar(
            "select metadata ->> 'reason' from public.credit_transactions where hold_id = %s "
            "and transaction_type = 'release'",
            (hold["hold_id"],),
        )
        == "expired"
    )
    audit_clean(db)


def test_sweepers_expire_idle_users(db: TestDatabase, user: Identity) -> None:
    other = db.create_user()
    grant(db, other, 5, expires_at="2026-05-11T00:00:00+00:00")
    reserve(db, user)
    db.freeze_time("2026-05-12T00:00:00+00:00")
    result = db.rpc("run_credit_sweepers", {}, as_=SERVICE)
    assert result == {"holds_released": 1, "grants_expired": 1}
    assert balance(db, user) == Decimal("20.00") and balance(db, other) == 0
    assert db.rpc("run_credit_sweepers", {}, as_=SERVICE) == {"holds_released": 0, "grants_expired": 0}
    audit_clean(db)


def test_too_many_active_holds_is_credit_002(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 100)
    for _ in range(10):
        reserve(db, user, "chat_message")
    err = expect_error(lambda: reserve(db, user, "chat_message"), "CREDIT_002", 429)
    assert err.message == "تم الوصول للحد الأقصى"


def test_reserve_needs_the_credits_up_front(db: TestDatabase) -> None:
    poor = db.create_user()
    grant(db, poor, 3)
    reserve(db, poor)
    expect_error(lambda: reserve(db, poor), "CREDIT_001", 402)
    expect_error(
        lambda: db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=poor),
        "CREDIT_001",
        402,
    )


def test_a_refund_key_answers_only_the_refund_it_made(db: TestDatabase, user: Identity) -> None:
    first = db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)
    second = db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    k = key()
    args = {
        "user_id": user.user_id,
        "transaction_id": first["transaction_id"],
        "idempotency_key": k,
        "reason": "GEN_001",
    }
    db.rpc("refund_transaction", args, as_=SERVICE)
    entries, before = ledger_count(db, user), balance(db, user)
    # The same key for another transaction, or with another reason: refused, nothing written.
    for changed in ({"transaction_id": second["transaction_id"]}, {"reason": "another reason"}):
        expect_error(lambda c=changed: db.rpc("refund_transaction", {**args, **c}, as_=SERVICE), "CREDIT_005", 409)
    assert (ledger_count(db, user), balance(db, user)) == (entries, before)
    audit_clean(db)


def test_refund_returns_credits_to_their_grants_once(db: TestDatabase, user: Identity) -> None:
    spend = db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)
    k = key()
    refund = db.rpc(
        "refund_transaction",
        {
            "user_id": user.user_id,
            "transaction_id": spend["transaction_id"],
            "idempotency_key": k,
            "reason": "GEN_001: generation failed",
        },
        as_=SERVICE,
    )
    assert (refund["refunded"], refund["forfeited"], refund["balance"]) == (Decimal("3.00"), 0, Decimal("20.00"))
    assert (
        db.rpc(
            "refund_transaction",
            {
                "user_id": user.user_id,
                "transaction_id": spend["transaction_id"],
                "idempotency_key": k,
                "reason": "GEN_001: generation failed",
            },
            as_=SERVICE,
        )
        == refund
    )
    expect_error(
        lambda: db.rpc(
            "refund_transaction",
            {
                "user_id": user.user_id,
                "transaction_id": spend["transaction_id"],
                "idempotency_key": key(),
                "reason": "again",
            },
            as_=SERVICE,
        ),
        "CREDIT_012",
        409,
    )
    grants = db.sql(
        "select a.grant_id, a.amount from billing.grant_movements a "
        "where a.transaction_id in (%s, %s) order by a.amount",
        (spend["transaction_id"], refund["transaction_id"]),
    )
    assert grants[0]["grant_id"] == grants[1]["grant_id"] and grants[0]["amount"] == -grants[1]["amount"]
    audit_clean(db)


def test_refund_of_a_capture_returns_only_what_was_kept(db: TestDatabase, user: Identity) -> None:
    hold = reserve(db, user, "complex_feature")
    captured = db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": 1}, as_=SERVICE)
    refund = db.rpc(
        "refund_transaction",
        {
            "user_id": user.user_id,
            "transaction_id": captured["transaction_id"],
            "idempotency_key": key(),
            "reason": "failed",
        },
        as_=SERVICE,
    )
    assert refund["refunded"] == Decimal("1.00") and balance(db, user) == Decimal("20.00")
    audit_clean(db)


def test_refund_into_an_expired_grant_is_forfeited(db: TestDatabase) -> None:
    u = db.create_user()
    grant(db, u, 5, expires_at="2026-05-11T00:00:00+00:00")
    spend = db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": key()}, as_=u)
    db.freeze_time("2026-05-12T00:00:00+00:00")
    refund = db.rpc(
        "refund_transaction",
        {
            "user_id": u.user_id,
            "transaction_id": spend["transaction_id"],
            "idempotency_key": key(),
            "reason": "late",
        },
        as_=SERVICE,
    )
    assert (refund["refunded"], refund["forfeited"], refund["balance"]) == (0, Decimal("3.00"), 0)
    audit_clean(db)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"transaction_id": "00000000-0000-0000-0000-000000000000", "reason": "x"}, "CREDIT_011"),
        ({"transaction_id": None, "reason": "x"}, "CREDIT_011"),
        ({"transaction_id": "GRANT", "reason": "x"}, "CREDIT_012"),
        ({"transaction_id": "SPEND", "reason": ""}, "VAL_001"),
        ({"transaction_id": "SPEND", "reason": None}, "VAL_001"),
        ({"transaction_id": "SPEND", "reason": "x" * 501}, "VAL_001"),
    ],
)
def test_bad_refunds(db: TestDatabase, user: Identity, args: dict, code: str) -> None:
    spend = db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    grant_tx = db.scalar(
        "select id::text from public.credit_transactions where user_id = %s and transaction_type = 'grant'",
        (user.user_id,),
    )
    args = {**args, "user_id": user.user_id, "idempotency_key": key()}
    args["transaction_id"] = {"SPEND": spend["transaction_id"], "GRANT": grant_tx}.get(
        args["transaction_id"], args["transaction_id"]
    )
    before = ledger_count(db, user)
    expect_error(lambda: db.rpc("refund_transaction", args, as_=SERVICE), code)
    assert ledger_count(db, user) == before


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"amount": "0"}, "CREDIT_010"),
        ({"amount": "-5"}, "CREDIT_010"),
        ({"amount": "NaN"}, "CREDIT_010"),
        ({"amount": "1000000.01"}, "CREDIT_010"),
        ({"amount": "1.005"}, "CREDIT_010"),
        ({"amount": None}, "CREDIT_010"),
        ({"source": "daily_bonus"}, "CREDIT_013"),
        ({"source": "gift"}, "CREDIT_013"),
        ({"source": None}, "CREDIT_013"),
        ({"expires_at": "2026-05-10T08:59:59+00:00"}, "CREDIT_013"),
        ({"expires_at": "infinity"}, "CREDIT_013"),
        ({"user_id": "00000000-0000-0000-0000-000000000000"}, "CREDIT_014"),
        ({"user_id": None}, "CREDIT_014"),
        ({"idempotency_key": ""}, "CREDIT_006"),
        ({"description": "x" * 501}, "VAL_001"),
    ],
)
def test_bad_grants(db: TestDatabase, user: Identity, overrides: dict, code: str) -> None:
    args = {
        "user_id": user.user_id,
        "amount": "5",
        "source": "promo",
        "expires_at": None,
        "idempotency_key": key(),
        **overrides,
    }
    before = db.scalar("select count(*) from public.credit_transactions")
    expect_error(lambda: db.rpc("grant_credits", args, as_=SERVICE), code)
    assert db.scalar("select count(*) from public.credit_transactions") == before


def test_grant_retry_returns_the_first_result(db: TestDatabase, user: Identity) -> None:
    k = key()
    first = grant(db, user, 5, idempotency_key=k)
    assert grant(db, user, 5, idempotency_key=k) == first
    expect_error(lambda: grant(db, user, 6, idempotency_key=k), "CREDIT_005", 409)
    assert balance(db, user) == Decimal("25.00")


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("0", "CREDIT_010"),
        ("-1", "CREDIT_010"),
        ("NaN", "CREDIT_010"),
        ("10000.01", "CREDIT_010"),
        ("0.333", "CREDIT_010"),
        ("21", "CREDIT_001"),
    ],
)
def test_deduct_credits_validates_and_is_safe(db: TestDatabase, user: Identity, amount: str, code: str) -> None:
    args = {"user_id": user.user_id, "amount": amount, "description": "image upscaling", "idempotency_key": key()}
    expect_error(lambda: db.rpc("deduct_credits", args, as_=SERVICE), code)
    assert balance(db, user) == Decimal("20.00")


def test_deduct_credits_happy_path_and_retry(db: TestDatabase, user: Identity) -> None:
    args = {"user_id": user.user_id, "amount": "7.25", "description": "image upscaling", "idempotency_key": key()}
    first = db.rpc("deduct_credits", args, as_=SERVICE)
    assert first["charged"] == Decimal("7.25") and first["balance"] == Decimal("12.75")
    assert db.rpc("deduct_credits", args, as_=SERVICE) == first
    expect_error(lambda: db.rpc("deduct_credits", {**args, "amount": "7.26"}, as_=SERVICE), "CREDIT_005", 409)
    expect_error(
        lambda: db.rpc("deduct_credits", {**args, "description": None, "idempotency_key": key()}, as_=SERVICE),
        "VAL_001",
        400,
    )
    audit_clean(db)


def test_audit_catches_a_tampered_balance(db: TestDatabase, user: Identity) -> None:
    audit_clean(db)
    db.sql("update public.users set credits_balance = credits_balance + 1 where id = %s", (user.user_id,))
    problems = {r["problem"] for r in db.sql("select problem from billing.audit_ledger()")}
    assert problems == {"balance_vs_grants", "balance_vs_ledger", "balance_vs_last_entry"}
    db.sql("update billing.grants set remaining = remaining - 1 where user_id = %s", (user.user_id,))
    problems = {r["problem"] for r in db.sql("select problem from billing.audit_ledger()")}
    assert "grant_vs_allocations" in problems
