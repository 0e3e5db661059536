"""The spend fast path and the upkeep schedule (users.credits_next_event_at).

A spend debits the user's row in one statement while no credit event is due; these tests pin
down that the schedule is never late (an expiry, a hold's end, a new Kuwait day, a plan change
always reach the next spend) and that the fast path records and replays exactly what the slow
path does.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from kwq8.postgrest import Api, Identity
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

pytest_plugins = ("tests.credit_fixtures",)


def spend(db: TestDatabase, user: Identity, action: str = "chat_message", k: str | None = None, **extra: str) -> dict:
    return db.rpc("spend_credits", {"action": action, "idempotency_key": k or key(), **extra}, as_=user)


def next_event(db: TestDatabase, user: Identity) -> str:
    return str(
        db.scalar(
            "select (credits_next_event_at at time zone 'UTC')::text from public.users where id = %s", (user.user_id,)
        )
    )


def kinds(db: TestDatabase, user: Identity) -> list[str]:
    rows = db.sql(
        "select transaction_type from public.credit_transactions where user_id = %s order by seq", (user.user_id,)
    )
    return [r["transaction_type"] for r in rows]


def test_a_new_user_is_due_and_upkeep_schedules_the_next_event(db: TestDatabase, user: Identity) -> None:
    assert next_event(db, user) == "1970-01-01 00:00:00"  # due at sign-up
    grant(db, user, 10, "promo", "2026-05-20T00:00:00+00:00")
    grant(db, user, 10, "purchase")
    db.rpc("get_credit_summary", {}, as_=user)  # upkeep
    assert next_event(db, user) == "2026-05-20 00:00:00"
    grant(db, user, 1, "promo", "2026-05-15T00:00:00+00:00")  # sooner: brought forward at once
    assert next_event(db, user) == "2026-05-15 00:00:00"


def test_a_single_grant_spend_names_its_grant_and_writes_no_allocation(db: TestDatabase, user: Identity) -> None:
    g = grant(db, user, 10)
    spend(db, user)  # the first request does the upkeep
    tx = spend(db, user)["transaction_id"]  # fast path
    entry = db.sql("select grant_id from public.credit_transactions where id = %s", (tx,))
    assert str(entry[0]["grant_id"]) == g["grant_id"]
    assert db.scalar("select count(*) from billing.allocations where transaction_id = %s", (tx,)) == 0
    movements = db.sql("select grant_id, amount from billing.grant_movements where transaction_id = %s", (tx,))
    assert [(str(m["grant_id"]), m["amount"]) for m in movements] == [(g["grant_id"], Decimal("-1.00"))]
    audit_clean(db)


def test_a_spend_over_several_grants_writes_allocations(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 1, "promo", "2026-05-20T00:00:00+00:00")
    grant(db, user, 1, "promo", "2026-05-21T00:00:00+00:00")
    grant(db, user, 5, "purchase")
    spend(db, user, "simple_edit")  # upkeep, 0.5 from the soonest grant
    tx = spend(db, user, "component_generation")["transaction_id"]  # 0.5 + 1 + 0.5
    assert db.scalar("select grant_id from public.credit_transactions where id = %s", (tx,)) is None
    taken = db.sql(
        "select g.expires_at::date::text as expires, a.amount from billing.allocations a "
        "join billing.grants g on g.id = a.grant_id where a.transaction_id = %s order by g.expires_at nulls last",
        (tx,),
    )
    assert [(t["expires"], t["amount"]) for t in taken] == [
        ("2026-05-20", Decimal("-0.50")),
        ("2026-05-21", Decimal("-1.00")),
        (None, Decimal("-0.50")),
    ]
    assert balance(db, user) == Decimal("4.50")
    audit_clean(db)


def test_a_fast_path_retry_gives_back_what_it_took(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 10)
    spend(db, user)  # upkeep done: the next calls take the fast path
    k = key()
    first = spend(db, user, "page_generation", k, description="home")
    grants_before = db.sql("select id, remaining from billing.grants where user_id = %s order by id", (user.user_id,))
    entries = ledger_count(db, user)
    assert spend(db, user, "page_generation", k, description="home") == first
    assert balance(db, user) == Decimal("6.00") and ledger_count(db, user) == entries
    assert db.sql("select id, remaining from billing.grants where user_id = %s order by id", (user.user_id,)) == (
        grants_before
    )
    expect_error(lambda: spend(db, user, "page_generation", k, description="about"), "CREDIT_005", 409)
    expect_error(lambda: spend(db, user, "chat_message", k, description="home"), "CREDIT_005", 409)
    assert balance(db, user) == Decimal("6.00") and ledger_count(db, user) == entries
    audit_clean(db)


def test_a_retry_answers_even_when_the_balance_no_longer_covers_it(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 3)
    k = key()
    first = spend(db, user, "page_generation", k)
    assert first["balance"] == 0
    assert spend(db, user, "page_generation", k) == first
    expect_error(lambda: spend(db, user), "CREDIT_001", 402)


def test_an_expiry_reaches_the_next_spend(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 3, "promo", "2026-05-11T00:00:00+00:00")
    grant(db, user, 1, "purchase")
    spend(db, user)  # 1 of the promo's 3
    db.freeze_time("2026-05-11T00:00:00+00:00")
    # The stored balance (3) still counts the expired promo's 2: only the upkeep may decide.
    expect_error(lambda: spend(db, user, "component_generation"), "CREDIT_001", 402)
    assert spend(db, user)["balance"] == 0
    assert kinds(db, user) == ["grant", "grant", "spend", "expire", "spend"]
    audit_clean(db)


def test_an_expired_hold_reaches_the_next_spend(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 4)
    hold = db.rpc("reserve_credits", {"action": "complex_feature", "idempotency_key": key()}, as_=user)
    assert next_event(db, user) == "2026-05-10 09:15:00"
    expect_error(lambda: spend(db, user), "CREDIT_001", 402)
    db.freeze_time("2026-05-10T09:15:00+00:00")
    assert spend(db, user)["balance"] == Decimal("3.00")
    assert kinds(db, user) == ["grant", "hold", "release", "spend"]
    status = db.scalar("select status from billing.holds where id = %s", (hold["hold_id"],))
    assert status == "expired"
    audit_clean(db)


def test_a_plan_change_makes_upkeep_due_and_the_bonus_is_spent_first(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 10, "purchase")
    spend(db, user)
    assert next_event(db, user) == "None"  # nothing scheduled
    subscribe(db, user, "basic", "2026-05-10T00:00:00+00:00", FUTURE)  # a plain UPDATE, as operators might
    assert next_event(db, user) == "1970-01-01 00:00:00"  # due now
    tx = spend(db, user)["transaction_id"]
    source = db.scalar(
        "select g.source from public.credit_transactions t join billing.grants g on g.id = t.grant_id where t.id = %s",
        (tx,),
    )
    assert source == "daily_bonus"
    assert next_event(db, user) == "2026-05-10 21:00:00"  # the next Kuwait midnight
    db.freeze_time("2026-05-10T21:00:00+00:00")
    spend(db, user)
    assert kinds(db, user)[-3:] == ["expire", "grant", "spend"]  # yesterday's 4 gone, today's 5 given
    assert balance(db, user) == Decimal("13.00")
    audit_clean(db)


def test_a_refund_into_a_spent_grant_still_expires_on_time(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 2, "promo", "2026-05-12T00:00:00+00:00")
    grant(db, user, 10, "purchase")
    first = spend(db, user, "component_generation")  # the promo's 2: spent out
    # Upkeep while the promo is empty still keeps its expiry on the schedule.
    db.sql("select billing.schedule_credit_events(%s, billing.clock())", (user.user_id,))
    assert next_event(db, user) == "2026-05-12 00:00:00"
    db.rpc(
        "refund_transaction",
        {
            "user_id": user.user_id,
            "transaction_id": first["transaction_id"],
            "idempotency_key": key(),
            "reason": "GEN_001",
        },
        as_=SERVICE,
    )
    assert balance(db, user) == Decimal("12.00")
    db.freeze_time("2026-05-12T00:00:00+00:00")
    assert spend(db, user)["balance"] == Decimal("9.00")  # the refunded 2 expired first
    assert kinds(db, user) == ["grant", "grant", "spend", "refund", "expire", "spend"]
    audit_clean(db)


def test_a_user_with_credit_history_cannot_be_deleted(db: TestDatabase, user: Identity) -> None:
    quiet = db.create_user()
    db.sql("delete from auth.users where id = %s", (quiet.user_id,))
    assert db.scalar("select count(*) from public.users where id = %s", (quiet.user_id,)) == 0
    grant(db, user, 1)
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="credit history"):
        db.sql("delete from auth.users where id = %s", (user.user_id,))
    assert balance(db, user) == Decimal("1.00")


def test_grants_are_never_deleted(db: TestDatabase, user: Identity) -> None:
    g = grant(db, user, 1)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        db.sql("delete from billing.grants where id = %s", (g["grant_id"],))
    assert db.scalar("select count(*) from billing.grants where id = %s", (g["grant_id"],)) == 1


def test_the_audit_finds_an_entry_naming_another_users_grant(db: TestDatabase, user: Identity) -> None:
    other = db.create_user()
    theirs = grant(db, other, 5)
    grant(db, user, 5)
    spend(db, user)
    db.sql(
        "insert into public.credit_transactions "
        "(id, user_id, transaction_type, credits_amount, balance_after, grant_id) "
        "values (billing.uuid_v7(), %s, 'spend', 0.01, 4.01, %s)",
        (user.user_id, theirs["grant_id"]),
    )
    problems = {r["problem"] for r in db.sql("select problem from billing.audit_ledger()")}
    assert "dangling_reference" in problems


def _burn_down_orders() -> dict[str, list[str]]:
    """The burn-down order as each place writes it, aliases dropped: the index of migration 0007,
    the spend's fast path, and billing.consume's first pick and running total."""
    root = Path(__file__).resolve().parents[2]

    def terms(text: str) -> list[str]:
        text = re.sub(r"\b[a-z]\.(?=[a-z_])", "", " ".join(text.split()))
        return [re.sub(r"[()]", "", t).strip() for t in text.split(",")]

    index = (root / "sql" / "0007_grants_burn_down_index.sql").read_text()
    columns = re.search(r"on billing\.grants \((.*?)\);", index, re.S)
    assert columns
    orders = {"index 0007": terms(columns.group(1))[1:]}  # after user_id, the equality column
    for rel in ("functions/billing/spend_credits.sql", "functions/billing/ledger.sql"):
        found = re.findall(r"order by (.*?)\s+(?:limit 1|rows unbounded preceding)", (root / rel).read_text(), re.S)
        for n, order in enumerate(found):
            orders[f"{rel} #{n + 1}"] = terms(order)
    return orders


def test_burn_down_order_is_one_rule_in_every_place_that_writes_it() -> None:
    """Written where the planner must see it literally (an index matches an `order by` only by its
    expressions, and the spend's hot path cannot afford a function call), so kept identical here."""
    orders = _burn_down_orders()
    assert len(orders) == 4, orders
    assert all(order == orders["index 0007"] for order in orders.values()), orders


def test_the_spend_picks_its_grant_by_index_in_burn_down_order(kwq8_db: TestDatabase) -> None:
    """billing.grants_burn_down has the expressions of the spend's `order by`, so the grant a spend
    draws from is found by an index scan that stops at the first live grant, with no sort. With
    sorts priced out, a plan without a Sort exists only while the index and the query agree."""
    db = kwq8_db
    user = db.create_user()
    grant(db, user, 10, "purchase")
    grant(db, user, 10, "promo", "2999-01-01T00:00:00+00:00")
    conn = db.connect("supabase_admin")
    plans: list[str] = []
    conn.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
    conn.execute("load 'auto_explain'")
    for setting, value in (
        ("auto_explain.log_min_duration", "0"),
        ("auto_explain.log_nested_statements", "on"),
        ("auto_explain.log_level", "notice"),
        ("enable_sort", "off"),
        ("enable_seqscan", "off"),
    ):
        conn.execute("select set_config(%s, %s, false)", (setting, value))
    api = Api(conn)
    for _ in range(2):  # the first spend does the upkeep, the second takes the fast path
        api.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    picks = [p for p in plans if "update billing.grants as g" in p]
    assert len(picks) == 2, plans
    for plan in picks:
        assert "Index Scan using grants_burn_down" in plan, plan
        assert "Sort" not in plan, plan
    # Promotional before paid: both spends came from the promo grant.
    remaining = db.sql(
        "select source, remaining from billing.grants where user_id = %s order by source", (user.user_id,)
    )
    assert [(r["source"], r["remaining"]) for r in remaining] == [("promo", Decimal(8)), ("purchase", Decimal(10))]
