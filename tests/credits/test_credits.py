"""Credits as the browser and trusted servers use them, through PostgREST-style requests."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import (
    FUTURE,
    SERVICE,
    audit_clean,
    balance,
    expect_error,
    grant,
    key,
    ledger_count,
    subscribe,
)

# Also run on PostgreSQL 17 in CI (scripts/test).
pytestmark = pytest.mark.pg17

pytest_plugins = ("tests.credit_fixtures",)

ROOT = Path(__file__).resolve().parents[2]


def test_sign_up_creates_the_users_row(db: TestDatabase) -> None:
    user = db.create_user("new@example.kw")
    row = db.sql("select email, credits_balance, plan from public.users where id = %s", (user.user_id,))
    assert row == [{"email": "new@example.kw", "credits_balance": Decimal("0.00"), "plan": None}]


def test_plans_and_costs_are_seeded_exactly_and_public(db: TestDatabase, anon: Identity) -> None:
    plans = db.query_as(
        anon, "select code, price_kwd::text, monthly_credits, daily_bonus from public.plans order by sort_order"
    )
    assert plans == [
        ("basic", "23.000", Decimal("100.00"), Decimal("5.00")),
        ("pro", "38.000", Decimal("200.00"), Decimal("8.00")),
        ("premium", "59.000", Decimal("350.00"), Decimal("12.00")),
        ("enterprise", "75.000", Decimal("500.00"), Decimal("15.00")),
    ]
    costs = dict(db.query_as(anon, "select action, cost from public.action_costs"))
    assert costs == {
        "chat_message": Decimal("1.00"),
        "simple_edit": Decimal("0.50"),
        "component_generation": Decimal("2.00"),
        "page_generation": Decimal("3.00"),
        "template_customization": Decimal("2.00"),
        "complex_feature": Decimal("4.00"),
        "banana_image": Decimal("2.50"),
        "database_setup": Decimal("2.50"),
        "deployment": Decimal("1.00"),
    }


def test_spend_charges_the_action_price_and_retries_change_nothing(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 10)
    k = key()
    first = db.rpc(
        "spend_credits", {"action": "page_generation", "idempotency_key": k, "description": "home"}, as_=user
    )
    assert first["charged"] == Decimal("3.00") and first["balance"] == Decimal("7.00")
    entries = ledger_count(db, user)
    again = db.rpc(
        "spend_credits", {"action": "page_generation", "idempotency_key": k, "description": "home"}, as_=user
    )
    assert again == first
    assert ledger_count(db, user) == entries and balance(db, user) == Decimal("7.00")
    row = db.sql(
        "select transaction_type, credits_amount, balance_after, action, description "
        "from public.credit_transactions where id = %s",
        (first["transaction_id"],),
    )
    assert row == [
        {
            "transaction_type": "spend",
            "credits_amount": Decimal("-3.00"),
            "balance_after": Decimal("7.00"),
            "action": "page_generation",
            "description": "home",
        }
    ]
    audit_clean(db)


def test_same_key_with_other_arguments_is_refused(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 10)
    k = key()
    db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": k}, as_=user)
    before = ledger_count(db, user)
    for args in (
        {"action": "page_generation", "idempotency_key": k},
        {"action": "chat_message", "idempotency_key": k, "description": "other"},
    ):
        expect_error(lambda a=args: db.rpc("spend_credits", a, as_=user), "CREDIT_005", 409)
    expect_error(
        lambda: db.rpc("reserve_credits", {"action": "chat_message", "idempotency_key": k}, as_=user), "CREDIT_005", 409
    )
    assert ledger_count(db, user) == before


def test_insufficient_credits_is_credit_001_in_arabic_and_writes_nothing(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 2)
    before = ledger_count(db, user)
    err = expect_error(
        lambda: db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user),
        "CREDIT_001",
        402,
    )
    assert err.message == "رصيدك غير كافٍ"
    assert err.details and err.details.startswith("Insufficient credits: balance 2.00 is less than the cost 3.00")
    assert ledger_count(db, user) == before and balance(db, user) == Decimal("2.00")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"action": "teleport", "idempotency_key": "k"}, "CREDIT_003"),
        ({"action": None, "idempotency_key": "k"}, "CREDIT_003"),
        ({"action": "chat_message", "idempotency_key": ""}, "CREDIT_006"),
        ({"action": "chat_message", "idempotency_key": "   "}, "CREDIT_006"),
        ({"action": "chat_message", "idempotency_key": "x" * 256}, "CREDIT_006"),
        ({"action": "chat_message", "idempotency_key": "bad\nkey"}, "CREDIT_006"),
        ({"action": "chat_message", "idempotency_key": None}, "CREDIT_006"),
        ({"action": "chat_message", "idempotency_key": "k", "description": "x" * 501}, "VAL_001"),
        ({"action": "'; drop table public.users; --", "idempotency_key": "k"}, "CREDIT_003"),
    ],
)
def test_bad_spend_input_gets_a_code_and_no_write(
    db: TestDatabase, user: Identity, args: dict[str, object], code: str
) -> None:
    grant(db, user, 10)
    before = ledger_count(db, user)
    expect_error(lambda: db.rpc("spend_credits", args, as_=user), code, 400)
    assert ledger_count(db, user) == before


def test_a_255_character_key_is_fine(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 10)
    assert db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": "ك" * 255}, as_=user)["charged"] == 1


def test_the_browser_cannot_name_an_amount_or_a_user(db: TestDatabase, user: Identity) -> None:
    for extra in ({"amount": 0.01}, {"user_id": user.user_id}):
        expect_error(
            lambda e=extra: db.rpc(
                "spend_credits", {"action": "chat_message", "idempotency_key": key(), **e}, as_=user
            ),
            "PGRST202",
            404,
        )


def test_who_may_call_what(db: TestDatabase, user: Identity, anon: Identity) -> None:
    grant(db, user, 10)
    browser = [
        ("spend_credits", {"action": "chat_message", "idempotency_key": key()}),
        ("reserve_credits", {"action": "chat_message", "idempotency_key": key()}),
        ("get_credit_summary", {}),
    ]
    server = [
        ("deduct_credits", {"user_id": user.user_id, "amount": 1, "description": "x", "idempotency_key": key()}),
        (
            "grant_credits",
            {"user_id": user.user_id, "amount": 1, "source": "promo", "expires_at": None, "idempotency_key": key()},
        ),
        ("capture_hold", {"user_id": user.user_id, "hold_id": user.user_id}),
        ("release_hold", {"user_id": user.user_id, "hold_id": user.user_id}),
        (
            "refund_transaction",
            {"user_id": user.user_id, "transaction_id": user.user_id, "idempotency_key": key(), "reason": "x"},
        ),
        ("run_credit_sweepers", {}),
    ]
    for name, args in browser:
        expect_error(lambda n=name, a=args: db.rpc(n, a, as_=anon), "42501", 401)
        expect_error(lambda n=name, a=args: db.rpc(n, a, as_=SERVICE), "42501", 403)
    for name, args in server:
        expect_error(lambda n=name, a=args: db.rpc(n, a, as_=anon), "42501", 401)
        expect_error(lambda n=name, a=args: db.rpc(n, a, as_=user), "42501", 403)
    assert balance(db, user) == Decimal("10.00")


def test_the_racy_client_side_pattern_is_impossible_for_clients(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 5)
    tx = db.sql("select id from public.credit_transactions where user_id = %s", (user.user_id,))[0]["id"]
    for who in (user, SERVICE):
        for sql in (
            "update public.users set credits_balance = 1000 where id = %(u)s",
            "insert into public.credit_transactions (user_id, transaction_type, credits_amount, "
            "balance_after) values (%(u)s, 'grant', 1000, 1005)",
            "update public.credit_transactions set credits_amount = 1000 where id = %(t)s",
            "delete from public.credit_transactions where id = %(t)s",
        ):
            expect_error(lambda s=sql, w=who: db.query_as(w, s, {"u": user.user_id, "t": tx}), "42501")
    # Not even the table owner may edit the ledger.
    with pytest.raises(Exception, match="append-only"):
        db.sql("update public.credit_transactions set credits_amount = 1000 where id = %s", (tx,))
    assert balance(db, user) == Decimal("5.00")


def test_users_see_only_their_own_rows(db: TestDatabase, user: Identity) -> None:
    other = db.create_user()
    grant(db, user, 5)
    grant(db, other, 7)
    assert db.query_as(user, "select id::text, credits_balance from public.users") == [(user.user_id, Decimal("5.00"))]
    assert db.query_as(
        user, "select count(*) from public.credit_transactions where user_id = %s", (other.user_id,)
    ) == [(0,)]
    expect_error(lambda: db.query_as(user, "select * from billing.grants"), "42501", 403)


def test_burn_down_order(db: TestDatabase, user: Identity) -> None:
    subscribe(db, user, "basic", "2026-05-01T00:00:00+00:00", FUTURE)
    grant(db, user, 1, "purchase")  # no expiry: last
    monthly = grant(db, user, 1, "monthly", "2026-07-01T00:00:00+00:00")
    promo_late = grant(db, user, 1, "promo", "2026-07-01T00:00:00+00:00")  # same expiry: promo before paid
    promo_soon = grant(db, user, 1, "promo", "2026-05-20T00:00:00+00:00")  # soonest expiry
    summary = db.rpc("get_credit_summary", {}, as_=user)  # grants today's bonus of 5
    assert summary["daily_bonus"]["amount"] == Decimal("5.00")
    order = []
    for _ in range(9):
        tx = db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)["transaction_id"]
        order.append(
            db.scalar(
                "select g.source || ':' || coalesce(g.expires_at::date::text, 'never') from billing.grant_movements a "
                "join billing.grants g on g.id = a.grant_id where a.transaction_id = %s",
                (tx,),
            )
        )
    assert order == ["daily_bonus:2026-05-10"] * 5 + [
        "promo:2026-05-20",
        "promo:2026-07-01",
        "monthly:2026-07-01",
        "purchase:never",
    ]
    assert {promo_soon["grant_id"], promo_late["grant_id"], monthly["grant_id"]} <= set(
        str(r["grant_id"]) for r in db.sql("select grant_id from billing.grant_movements")
    )
    audit_clean(db)


def test_daily_bonus_follows_the_kuwait_calendar(db: TestDatabase, user: Identity) -> None:
    subscribe(db, user, "pro", "2026-05-01T00:00:00+00:00", FUTURE)
    db.freeze_time("2026-05-10T20:59:59+00:00")  # 23:59:59 in Kuwait
    first = db.rpc("get_credit_summary", {}, as_=user)
    assert first["daily_bonus"] == {
        "amount": Decimal("8.00"),
        "remaining": Decimal("8.00"),
        "resets_at": "2026-05-10T21:00:00+00:00",
    }
    assert first["balance"] == Decimal("8.00")
    db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    db.freeze_time("2026-05-10T21:00:00+00:00")  # Kuwait midnight: yesterday's 7 left are gone
    second = db.rpc("get_credit_summary", {}, as_=user)
    assert second["daily_bonus"]["remaining"] == Decimal("8.00") and second["balance"] == Decimal("8.00")
    kinds = [
        r["transaction_type"]
        for r in db.sql(
            "select transaction_type from public.credit_transactions where user_id = %s order by seq", (user.user_id,)
        )
    ]
    assert kinds == ["grant", "spend", "expire", "grant"]
    assert (
        db.scalar("select count(*) from billing.grants where user_id = %s and source = 'daily_bonus'", (user.user_id,))
        == 2
    )
    audit_clean(db)


def test_no_daily_bonus_without_an_active_plan(db: TestDatabase, user: Identity) -> None:
    assert db.rpc("get_credit_summary", {}, as_=user)["daily_bonus"]["amount"] == 0
    subscribe(db, user, "basic", "2026-04-01T00:00:00+00:00", "2026-05-01T00:00:00+00:00")  # lapsed
    summary = db.rpc("get_credit_summary", {}, as_=user)
    assert summary["daily_bonus"]["amount"] == 0 and summary["plan"] is None and summary["balance"] == 0
    subscribe(db, user, "basic", "2026-05-10T00:00:00+00:00", FUTURE)  # bought later that day: bonus now
    assert db.rpc("get_credit_summary", {}, as_=user)["daily_bonus"]["amount"] == Decimal("5.00")


def test_banana_image_needs_premium_or_enterprise(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 20)
    call = lambda: db.rpc("spend_credits", {"action": "banana_image", "idempotency_key": key()}, as_=user)  # noqa: E731
    err = expect_error(call, "CREDIT_004", 403)
    assert err.message == "هذه الميزة متاحة لباقتي المميزة والمؤسسات فقط"
    subscribe(db, user, "pro", "2026-05-01T00:00:00+00:00", FUTURE)
    expect_error(call, "CREDIT_004", 403)
    expect_error(
        lambda: db.rpc("reserve_credits", {"action": "banana_image", "idempotency_key": key()}, as_=user),
        "CREDIT_004",
        403,
    )
    subscribe(db, user, "premium", "2026-05-01T00:00:00+00:00", FUTURE)
    assert call()["charged"] == Decimal("2.50")


def test_monthly_credits_expire_after_one_rollover_period(db: TestDatabase, user: Identity) -> None:
    result = db.scalar(
        "select billing.grant_monthly_credits(%s, 'basic', '2026-06-01T00:00:00+00:00', %s)", (user.user_id, key())
    )
    assert result["amount"] == Decimal("100.00")
    assert result["expires_at"] == "2026-07-01T00:00:00+00:00"
    db.freeze_time("2026-06-30T23:59:59+00:00")
    assert db.rpc("get_credit_summary", {}, as_=user)["balance"] == Decimal("100.00")
    db.freeze_time("2026-07-01T00:00:00+00:00")
    assert db.rpc("get_credit_summary", {}, as_=user)["balance"] == 0
    audit_clean(db)


def test_error_catalogue_covers_every_code_raised(db: TestDatabase) -> None:
    catalogue = {r["code"]: r for r in db.sql("select * from public.error_codes")}
    for code in ("AUTH_001", "AUTH_002", "AUTH_003", "CREDIT_001", "CREDIT_002", "GEN_001", "PAY_001", "DOM_001"):
        assert code in catalogue
    assert catalogue["CREDIT_001"]["message_ar"] == "رصيدك غير كافٍ"
    for row in catalogue.values():
        assert re.search("[\u0600-\u06ff]", row["message_ar"]), row
        assert row["message_en"].isascii() and 400 <= row["http_status"] <= 599
    raised = set()
    for path in [*ROOT.glob("functions/**/*.sql"), *ROOT.glob("policies/*.sql"), *ROOT.glob("sql/*.sql")]:
        raised |= set(re.findall(r"raise_error\(\s*'([A-Z]+_[0-9]{3})'", path.read_text()))
    assert raised and raised <= set(catalogue), raised - set(catalogue)
