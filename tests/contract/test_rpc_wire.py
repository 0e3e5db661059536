"""The wire shape of every RPC that answers a JSON object or list: per RPC and scenario, the set of
keys and the JSON type of each value (string, number, boolean, null, object, array), nested
objects and list items included, compared with tests/fixtures/rpc_wire.json. Values that vary
(ids, timestamps, amounts) are not compared: the shape is what a frontend and the generated types
rely on.

The fixture was recorded from the database while these RPCs still returned bare jsonb, before
they returned named composite types, with `KWQ8_RECORD_WIRE=1 kwq8 test tests/contract/test_rpc_wire.py`.
It is the oracle of that change: record it again only when a change of shape is intended.
"""

from __future__ import annotations

import json
import os
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import SERVICE, grant
from ..payment_helpers import attach, checkout, notify, status

pytest_plugins = ("tests.credit_fixtures",)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "rpc_wire.json"
MISSING_ORDER = "kwq8_" + "0" * 32
CONTACT = {
    "first_name": "Fatima",
    "last_name": "Al-Sabah",
    "address1": "Block 3, Street 12",
    "city": "Kuwait City",
    "state_province": "Al Asimah",
    "postal_code": "13001",
    "country": "kw",
    "phone": "+965.55501234",
    "email": "owner@example.kw",
}


def shape(value: Any) -> Any:
    """The JSON type of a value; objects keep their keys, lists the distinct shapes of their items."""
    if isinstance(value, dict):
        return {"object": {k: shape(v) for k, v in sorted(value.items())}}
    if isinstance(value, list):
        items = {json.dumps(shape(v), sort_keys=True) for v in value}
        return {"array": [json.loads(s) for s in sorted(items)]}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    assert isinstance(value, str), type(value)
    return "string"


class Wire:
    def __init__(self, db: TestDatabase) -> None:
        self.db = db
        self.shapes: dict[str, dict[str, Any]] = {}

    def call(self, fn: str, scenario: str, args: dict[str, Any], as_: Identity) -> Any:
        try:
            result = self.db.rpc(fn, args, as_=as_)
        except ApiError as exc:
            self.shapes.setdefault(fn, {})[scenario] = {"error": exc.code}
            return None
        self.shapes.setdefault(fn, {})[scenario] = shape(result)
        return result


def _project(db: TestDatabase, owner: Identity, state: str) -> str:
    return str(
        db.scalar(
            "insert into public.projects (user_id, name, slug, subdomain, status) "
            "values (%s, 'Site', %s, %s, %s) returning id",
            (owner.user_id, f"s-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}", state),
        )
    )


def _holds(w: Wire, db: TestDatabase) -> None:
    user = db.create_user()
    uid = user.user_id
    grant(db, user, 100)
    held = w.db.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": "wire-h1"}, as_=user)
    w.call("get_hold", "active", {"hold_id": held["hold_id"]}, user)
    w.call("extend_hold", "extended", {"user_id": uid, "hold_id": held["hold_id"]}, SERVICE)
    w.call("extend_hold", "other_user", {"user_id": db.create_user().user_id, "hold_id": held["hold_id"]}, SERVICE)
    db.rpc("capture_hold", {"user_id": uid, "hold_id": held["hold_id"], "amount": "1"}, as_=SERVICE)
    w.call("get_hold", "captured", {"hold_id": held["hold_id"]}, user)
    w.call("extend_hold", "captured", {"user_id": uid, "hold_id": held["hold_id"]}, SERVICE)
    failed = db.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": "wire-h2"}, as_=user)
    db.rpc(
        "release_hold",
        {"user_id": uid, "hold_id": failed["hold_id"], "failure_reason": "generation_failed"},
        as_=SERVICE,
    )
    w.call("get_hold", "generation_failed", {"hold_id": failed["hold_id"]}, user)
    w.call("get_hold", "missing", {"hold_id": str(uuid.uuid4())}, user)
    w.call("run_credit_sweepers", "default", {}, SERVICE)


def _checkouts(w: Wire, db: TestDatabase) -> None:
    user = db.create_user()
    uid = user.user_id
    new = {"user_id": uid, "plan": "basic", "payment_method": "knet", "idempotency_key": "wire-c1"}
    w.call("preview_checkout", "new", {"user_id": uid, "plan": "basic"}, SERVICE)
    w.call("preview_checkout", "unknown_plan", {"user_id": uid, "plan": "gold"}, SERVICE)
    order = w.call("create_checkout", "new", new, SERVICE)
    w.call("create_checkout", "replay", new, SERVICE)
    w.call("create_checkout", "unknown_plan", {**new, "plan": "gold", "idempotency_key": "wire-c2"}, SERVICE)
    track = uuid.uuid4().hex[:20]
    charge = {"order_id": order["order_id"], "track_id": track, "payment_url": f"https://pay.example/{track}"}
    w.call("attach_checkout_charge", "attached", charge, SERVICE)
    w.call("attach_checkout_charge", "replay", charge, SERVICE)
    w.call("attach_checkout_charge", "missing", {**charge, "order_id": MISSING_ORDER}, SERVICE)
    w.call("get_payment", "pending", {"order_id": order["order_id"], "user_id": uid}, SERVICE)
    w.call("get_payment", "other_user", {"order_id": order["order_id"], "user_id": str(uuid.uuid4())}, SERVICE)
    lookup = {"provider": "upayments", "track_id": track, "result": "CAPTURED", "order_id": order["order_id"]}
    w.call("lookup_payment_event", "known_payment", lookup, SERVICE)
    w.call("lookup_payment_event", "unknown_payment", {**lookup, "track_id": "t-none", "order_id": None}, SERVICE)
    event = {
        "provider": "upayments",
        "track_id": track,
        "notified_result": "CAPTURED",
        "verified": status(order["order_id"], order["amount_kwd"], track),
        "payload": {"track_id": track},
    }
    w.call("record_payment_event", "applied", event, SERVICE)
    w.call("record_payment_event", "duplicate", event, SERVICE)
    w.call("lookup_payment_event", "final_event", lookup, SERVICE)
    w.call("get_payment", "paid", {"order_id": order["order_id"], "user_id": uid}, SERVICE)
    confirm = {"order_id": order["order_id"], "track_id": track, "provider_payment_id": "1" * 18}
    w.call("confirm_payment", "replay", {**confirm, "amount_kwd": order["amount_kwd"]}, SERVICE)
    w.call("confirm_payment", "missing", {**confirm, "order_id": MISSING_ORDER, "amount_kwd": "1"}, SERVICE)

    # A subscriber: an upgrade quote carries its proration; the switches answer the subscription.
    w.call("preview_checkout", "upgrade", {"user_id": uid, "plan": "pro"}, SERVICE)
    upgrade = {"user_id": uid, "plan": "pro", "payment_method": "cc", "idempotency_key": "wire-c3"}
    card = w.call("create_checkout", "upgrade", upgrade, SERVICE)
    # The upgrade paid by card, confirmed by the status poll rather than a webhook.
    card_track = attach(db, card["order_id"])
    card_confirm = {"order_id": card["order_id"], "track_id": card_track, "provider_payment_id": "55"}
    w.call("confirm_payment", "wrong_amount", {**card_confirm, "amount_kwd": "0.001"}, SERVICE)
    w.call("confirm_payment", "confirmed", {**card_confirm, "amount_kwd": card["amount_kwd"]}, SERVICE)
    w.call("preview_checkout", "renewal", {"user_id": uid, "plan": "pro"}, SERVICE)
    w.call("preview_checkout", "downgrade", {"user_id": uid, "plan": "basic"}, SERVICE)
    w.call("set_cancel_at_period_end", "cancel", {"user_id": uid, "cancel": True}, SERVICE)
    w.call("set_cancel_at_period_end", "resume", {"user_id": uid, "cancel": False}, SERVICE)
    w.call(
        "set_cancel_at_period_end", "no_subscription", {"user_id": db.create_user().user_id, "cancel": True}, SERVICE
    )
    w.call("schedule_plan_change", "downgrade", {"user_id": uid, "plan": "basic"}, SERVICE)
    w.call("schedule_plan_change", "back_to_current", {"user_id": uid, "plan": "pro"}, SERVICE)
    w.call("schedule_plan_change", "no_subscription", {"user_id": db.create_user().user_id, "plan": "basic"}, SERVICE)

    pack = {"user_id": uid, "credit_pack": "pack_50", "payment_method": "knet", "idempotency_key": "wire-p1"}
    w.call("create_pack_checkout", "new", pack, SERVICE)
    w.call("create_pack_checkout", "replay", pack, SERVICE)
    w.call("create_pack_checkout", "unknown_pack", {**pack, "credit_pack": "pack_1", "idempotency_key": "w"}, SERVICE)

    buyer = db.create_user()
    errored = checkout(db, buyer, "basic", key="wire-c4")
    w.call("record_checkout_error", "recorded", {"order_id": errored["order_id"], "error": "timeout"}, SERVICE)
    w.call("record_checkout_error", "missing", {"order_id": MISSING_ORDER, "error": "x"}, SERVICE)

    # Reconciliation: a pending payment old enough to be asked about, and what the answer means.
    stale = checkout(db, buyer, "basic", key="wire-c5")
    stale_track = attach(db, stale["order_id"])
    db.sql(
        "update public.payments set created_at = created_at - interval '1 hour' where order_id = %s",
        (stale["order_id"],),
    )
    w.call("reconcile_candidates", "one_pending", {"max_rows": 5}, SERVICE)
    declined = {"order_id": stale["order_id"], "verified": status(stale["order_id"], "1", stale_track, "NOT CAPTURED")}
    w.call("record_status_check", "declined", declined, SERVICE)
    w.call("record_status_check", "missing", {"order_id": MISSING_ORDER, "verified": {}}, SERVICE)
    w.call("reconcile_candidates", "none", {"max_rows": 5}, SERVICE)
    unverified = {**event, "track_id": stale_track, "notified_result": "CAPTURED", "verified": None}
    w.call("record_payment_event", "late", unverified, SERVICE)


def _refunds(w: Wire, db: TestDatabase) -> None:
    user = db.create_user()
    order = checkout(db, user, "basic")
    track = attach(db, order["order_id"])
    notify(db, track, "CAPTURED", status(order["order_id"], order["amount_kwd"], track))
    w.call("refund_batch", "none", {"max_rows": 5}, SERVICE)
    asked = {"order_id": order["order_id"], "reason": "customer asked"}
    refund = w.call("request_refund", "requested", asked, SERVICE)
    w.call("request_refund", "replay", asked, SERVICE)
    w.call("request_refund", "missing", {**asked, "order_id": MISSING_ORDER}, SERVICE)
    w.call("refund_batch", "one_requested", {"max_rows": 5}, SERVICE)
    assert db.rpc("begin_refund", {"refund_id": refund["refund_id"], "refund_order_id": "r-1"}, as_=SERVICE)
    done = {"refund_id": refund["refund_id"], "outcome": "refunded", "provider": {"refund_id": "p-1"}, "error": None}
    w.call("finish_refund", "refunded", done, SERVICE)
    w.call("finish_refund", "replay", done, SERVICE)
    w.call("finish_refund", "missing", {**done, "refund_id": str(uuid.uuid4())}, SERVICE)


def _rate_limits(w: Wire) -> None:
    limit = {"bucket": "wire:test", "max_hits": 1, "window_seconds": 60}
    w.call("hit_rate_limit", "allowed", limit, SERVICE)
    w.call("hit_rate_limit", "refused", limit, SERVICE)
    w.call("hit_rate_limit", "bad_bucket", {**limit, "bucket": ""}, SERVICE)
    w.call("take_status_call", "reconcile", {"priority": "reconcile"}, SERVICE)
    w.call("take_status_call", "webhook", {"priority": "webhook"}, SERVICE)
    w.call("take_status_call", "bad_priority", {"priority": "nobody"}, SERVICE)
    w.call("run_payment_jobs", "default", {}, SERVICE)


def _storage_and_contact(w: Wire, db: TestDatabase) -> None:
    owner = db.create_user()
    w.call("set_domain_contact", "saved", {"contact": CONTACT}, owner)
    w.call("set_domain_contact", "updated", {"contact": {**CONTACT, "city": "Hawalli"}}, owner)
    w.call("set_domain_contact", "bad_phone", {"contact": {**CONTACT, "phone": "55501234"}}, owner)
    w.call("storage_cleanup_batch", "none", {"max_projects": 5}, SERVICE)
    with_files, empty = _project(db, owner, "published"), _project(db, owner, "archived")
    db.sql(
        "insert into storage.objects (bucket_id, name, metadata) values ('project-assets', %s, '{\"size\": 1}')",
        (f"{with_files}/public/a.png",),
    )
    db.sql("delete from public.projects where id = any(%s::uuid[])", ([with_files, empty],))
    w.call("storage_cleanup_batch", "one_with_files", {"max_projects": 5}, SERVICE)
    w.call("storage_cleanup_batch", "bad_limit", {"max_projects": 0}, SERVICE)
    w.call("finish_storage_cleanup", "files_left", {"project_id": with_files, "error": None}, SERVICE)
    w.call("finish_storage_cleanup", "failed", {"project_id": with_files, "error": "HTTP 503"}, SERVICE)
    w.call("finish_storage_cleanup", "missing", {"project_id": str(uuid.uuid4())}, SERVICE)


def record(db: TestDatabase) -> dict[str, dict[str, Any]]:
    w = Wire(db)
    _holds(w, db)
    _checkouts(w, db)
    _refunds(w, db)
    _rate_limits(w)
    _storage_and_contact(w, db)
    return w.shapes


def test_rpcs_answer_the_recorded_wire_shape(db: TestDatabase) -> None:
    shapes = record(db)
    if os.environ.get("KWQ8_RECORD_WIRE"):
        FIXTURE.write_text(json.dumps(shapes, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(FIXTURE.read_text())
    assert sorted(shapes) == sorted(recorded)
    for fn, scenarios in recorded.items():
        assert shapes[fn] == scenarios, fn


def test_every_scenario_ran_and_most_succeeded() -> None:
    """The fixture covers the RPCs it is the oracle for, each with at least one answer, not only errors."""
    recorded = json.loads(FIXTURE.read_text())
    answered = {fn for fn, scenarios in recorded.items() if any("error" not in s for s in scenarios.values())}
    assert answered == set(RPCS)


RPCS = (
    "get_hold",
    "extend_hold",
    "run_credit_sweepers",
    "set_domain_contact",
    "storage_cleanup_batch",
    "finish_storage_cleanup",
    "create_checkout",
    "attach_checkout_charge",
    "record_checkout_error",
    "preview_checkout",
    "get_payment",
    "confirm_payment",
    "record_payment_event",
    "lookup_payment_event",
    "request_refund",
    "refund_batch",
    "finish_refund",
    "reconcile_candidates",
    "record_status_check",
    "schedule_plan_change",
    "run_payment_jobs",
    "set_cancel_at_period_end",
    "hit_rate_limit",
    "take_status_call",
    "create_pack_checkout",
)
