"""Money safety of the payment path: server keys a browser cannot squat, captures that are
recorded whatever their fulfilment does, events that are final only when webhook and status
agree, captured money that is never cancelled, and reconciliation before anything is closed."""

from __future__ import annotations

import json
from decimal import Decimal

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..conftest import run_cli
from ..credit_helpers import audit_clean, balance, expect_error, grant, key
from ..payment_helpers import (
    SERVICE,
    attach,
    checkout,
    notify,
    pay,
    payment,
    payment_grants,
    payments_audit_clean,
    status,
    subscription,
    user_plan,
)

pytest_plugins = ("tests.credit_fixtures",)


def spend(db: TestDatabase, user: Identity, idempotency_key: str) -> dict[str, object]:
    result: dict[str, object] = db.rpc(
        "spend_credits", {"action": "chat_message", "idempotency_key": idempotency_key}, as_=user
    )
    return result


# ------------------------------------------------------------------------- key namespaces


def test_a_user_cannot_squat_the_key_of_their_payment(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 50)
    order = checkout(db, user)
    order_id = order["order_id"]
    # Every spelling of the server's key a user could derive from their visible order id.
    for squat in (f"srv:payment:{order_id}", f"SRV:payment:{order_id}", "srv:"):
        expect_error(lambda squat=squat: spend(db, user, squat), "CREDIT_015", 400)
        expect_error(
            lambda squat=squat: db.rpc(
                "reserve_credits", {"action": "chat_message", "idempotency_key": squat}, as_=user
            ),
            "CREDIT_015",
            400,
        )
    # A key that merely looks like the old server key is the user's own and harms nothing.
    spend(db, user, f"payment:{order_id}")
    before = balance(db, user)
    track = attach(db, order_id)
    event = notify(db, track, "CAPTURED", status(order_id, order["amount_kwd"], track))
    assert event["outcome"] == "applied" and event["final"] is True
    assert payment(db, order_id)["status"] == "paid"
    assert [g["credits_amount"] for g in payment_grants(db, order_id)] == [Decimal("100.00")]
    # The monthly credits and, the plan now being active, today's daily bonus of 5.
    assert balance(db, user) == before + 100 + 5
    audit_clean(db)
    payments_audit_clean(db)


def test_keys_of_trusted_servers_live_apart_from_browser_keys(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 50)
    shared = key()
    spend(db, user, shared)
    # The same key from a trusted server is its own request, not a replay of the user's spend.
    deduct = db.rpc(
        "deduct_credits",
        {"user_id": user.user_id, "amount": "3", "description": "upscale", "idempotency_key": shared},
        as_=SERVICE,
    )
    promo = grant(db, user, 7, idempotency_key=shared + "-g")
    spend(db, user, shared + "-g")
    assert Decimal(deduct["balance"]) == Decimal("46")
    assert Decimal(promo["amount"]) == Decimal("7")
    # Server replays still answer as the first call did.
    again = db.rpc(
        "deduct_credits",
        {"user_id": user.user_id, "amount": "3", "description": "upscale", "idempotency_key": shared},
        as_=SERVICE,
    )
    assert again["transaction_id"] == deduct["transaction_id"]
    assert balance(db, user) == Decimal("52")
    audit_clean(db)
    payments_audit_clean(db)


# ------------------------------------------------------------ fulfilment never undoes capture


def test_a_failing_fulfilment_still_records_the_capture(db: TestDatabase, user: Identity) -> None:
    order = checkout(db, user)
    track = attach(db, order["order_id"])
    # The plan's 100 monthly credits exceed what a single grant may give: the grant fails.
    db.sql("update billing.settings set max_grant_credits = 10")
    event = notify(db, track, "CAPTURED", status(order["order_id"], order["amount_kwd"], track))
    assert event["outcome"] == "needs_review" and event["final"] is True
    row = payment(db, order["order_id"])
    assert row["status"] == "paid" and row["fulfilment"] == "needs_review"
    assert "CREDIT_010" in row["status_reason"]
    assert row["credits_granted"] == 0 and row["paid_at"] is not None
    # Nothing half-applied: no subscription, no plan, no grant.
    assert subscription(db, user) is None
    assert user_plan(db, user)["plan"] is None
    assert payment_grants(db, order["order_id"]) == []
    # A redelivery is a duplicate of the final event; the job never cancels a paid payment.
    again = notify(db, track, "CAPTURED", status(order["order_id"], order["amount_kwd"], track))
    assert again["duplicate"] is True
    db.sql("update billing.settings set max_grant_credits = 1000000")
    confirm = db.rpc(
        "confirm_payment",
        {"order_id": order["order_id"], "track_id": track, "provider_payment_id": "1", "amount_kwd": "23.000"},
        as_=SERVICE,
    )
    assert confirm["replay"] is True and confirm["status"] == "paid"
    audit_clean(db)
    payments_audit_clean(db)


def test_paid_payments_keep_working_after_the_namespace(db: TestDatabase, user: Identity) -> None:
    paid = pay(db, user)
    assert paid["status"] == "paid" and Decimal(paid["credits_granted"]) == Decimal("100")
    assert len(payment_grants(db, paid["order_id"])) == 1


# ------------------------------------------------------------------------- payments audit


def test_payments_audit_is_clean_and_finds_corruption(kwq8_db: TestDatabase) -> None:
    user = kwq8_db.create_user()
    paid = pay(kwq8_db, user)
    other = kwq8_db.create_user()
    second = pay(kwq8_db, other)
    url = kwq8_db.url("postgres")
    clean = run_cli("payments", "audit", "--json", "--db-url", url)
    assert clean.code == 0, clean.stderr
    assert json.loads(clean.stdout) == {"payments": 2, "violations": []}
    # Corrupt the books as a bug (or a hand edit) could: a captured payment closed as
    # cancelled, and a payment reporting more credits than the ledger holds.
    kwq8_db.sql(
        "update public.payments set status = 'cancelled', closed_at = now(), paid_at = null, fulfilment = null"
        " where order_id = %s",
        (paid["order_id"],),
    )
    kwq8_db.sql("update public.payments set credits_granted = 150 where order_id = %s", (second["order_id"],))
    broken = run_cli("payments", "audit", "--db-url", url)
    assert broken.code == 1
    assert f"{paid['order_id']}: captured payment not recorded as received" in broken.stdout
    assert f"{second['order_id']}: fulfilled payment without exactly one grant" in broken.stdout
    assert "active subscription rests on a payment that was not applied" in broken.stdout
    assert "2 payments" in broken.stderr and "violation(s)" in broken.stderr
