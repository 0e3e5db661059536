"""Helpers for the payment tests: checkouts, provider notifications and what they left behind."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal
from typing import Any

from kwq8.payments.fake_upayments import FakeUPayments
from kwq8.payments.reconcile import reconcile
from kwq8.payments.upayments import UPaymentsClient
from kwq8.postgrest import Identity
from kwq8.service.db import BillingDb
from kwq8.testing.database import TestDatabase

SERVICE = Identity.service_role()


def checkout(
    db: TestDatabase, user: Identity, plan: str = "basic", method: str | None = "knet", key: str | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = db.rpc(
        "create_checkout",
        {
            "user_id": user.user_id,
            "plan": plan,
            "payment_method": method,
            "idempotency_key": key if key is not None else str(uuid.uuid4()),
        },
        as_=SERVICE,
    )
    return result


def attach(db: TestDatabase, order_id: str, track_id: str | None = None) -> str:
    track_id = track_id or secrets.token_hex(10)
    db.rpc(
        "attach_checkout_charge",
        {"order_id": order_id, "track_id": track_id, "payment_url": f"https://pay.example/{track_id}"},
        as_=SERVICE,
    )
    return track_id


def status(
    order_id: str,
    amount: Any,
    track_id: str,
    result: str = "CAPTURED",
    currency: str = "KWD",
) -> dict[str, Any]:
    """What the service passes on from get-payment-status/{track_id}."""
    return {
        "result": result,
        "track_id": track_id,
        "order_id": order_id,
        "payment_id": "1" + "0" * 17,
        "amount": str(amount),
        "currency": currency,
    }


def notify(db: TestDatabase, track_id: str, notified: str | None, verified: dict[str, Any] | None) -> dict[str, Any]:
    result: dict[str, Any] = db.rpc(
        "record_payment_event",
        {
            "provider": "upayments",
            "track_id": track_id,
            "notified_result": notified,
            "verified": verified,
            "payload": {"result": notified, "track_id": track_id},
        },
        as_=SERVICE,
    )
    return result


def pay(db: TestDatabase, user: Identity, plan: str = "basic") -> dict[str, Any]:
    """Checkout, charge and a confirmed capture: the happy path in one call."""
    order = checkout(db, user, plan)
    track = attach(db, order["order_id"])
    event = notify(db, track, "CAPTURED", status(order["order_id"], order["amount_kwd"], track))
    assert event["outcome"] == "applied", event
    return event["payment"]


def payment(db: TestDatabase, order_id: str) -> dict[str, Any]:
    return db.sql("select * from public.payments where order_id = %s", (order_id,))[0]


def subscription(db: TestDatabase, user: Identity) -> dict[str, Any] | None:
    rows = db.sql("select * from public.subscriptions where user_id = %s", (user.user_id,))
    return rows[0] if rows else None


def payment_grants(db: TestDatabase, order_id: str) -> list[dict[str, Any]]:
    """Ledger grants made for a payment (its idempotency key is 'srv:payment:<order_id>')."""
    return db.sql(
        "select t.credits_amount, g.expires_at, g.remaining, g.source from public.credit_transactions t "
        "join billing.grants g on g.id = t.grant_id where t.idempotency_key = %s",
        ("srv:payment:" + order_id,),
    )


def user_plan(db: TestDatabase, user: Identity) -> dict[str, Any]:
    row: dict[str, Any] = db.sql(
        "select plan, plan_period_start, plan_period_end, credits_balance from public.users where id = %s",
        (user.user_id,),
    )[0]
    return row


def monthly_remaining(db: TestDatabase, user: Identity) -> Decimal:
    return Decimal(
        db.scalar(
            "select coalesce(sum(remaining), 0) from billing.grants where user_id = %s and source = 'monthly'",
            (user.user_id,),
        )
    )


def payments_audit_clean(db: TestDatabase) -> None:
    rows = db.sql("select * from payments.audit_payments()")
    assert rows == [], rows


def charged(db: TestDatabase, client: UPaymentsClient, user: Identity, age: str = "1 hour") -> tuple[str, str]:
    """A checkout with its charge created at the fake, made `age` ago."""
    order = checkout(db, user)
    charge = client.create_charge(
        order_id=order["order_id"],
        amount=Decimal(order["amount_kwd"]),
        description="KWq8 basic plan (new)",
        language="ar",
        return_url="https://kwq8.test/return",
        cancel_url="https://kwq8.test/cancel",
        notification_url="https://billing.kwq8.test/billing/webhooks/upayments",
        payment_method="knet",
        customer={"uniqueId": user.user_id, "email": None},
        reference=order["order_id"],
    )
    assert charge.track_id
    attach(db, order["order_id"], charge.track_id)
    db.sql("update public.payments set created_at = now() - %s::interval where order_id = %s", (age, order["order_id"]))
    return order["order_id"], charge.track_id


def paid_order(db: TestDatabase, billing: BillingDb, client: UPaymentsClient, fake: FakeUPayments) -> str:
    user = db.create_user()
    order_id, track_id = charged(db, client, user)
    fake.set_outcome(track_id, "CAPTURED")
    assert reconcile(billing, client).outcomes["applied"] >= 1
    assert payment(db, order_id)["status"] == "paid"
    return order_id
