"""The generated contract with the real client: records what the real database and billing
service answer (results and error bodies, with the status PostgREST would send), then runs the
Node suite (tests/node, `node --test`), which replays those answers through the real
@supabase/supabase-js and checks them with the generated Zod schemas and toKwq8Error; and
type-checks sample frontend calls with tsc, where a wrong argument name must not compile.

The expected codes here are this file's own: the code the database raised, or for raw Postgres
errors the code its situation calls for (a malformed uuid is VAL_007, a taken subdomain
PROJ_004), never read from errors.ts.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

from ..payment_helpers import attach, checkout, notify, status
from ..service_helpers import Service

pytest_plugins = ("tests.service_fixtures",)

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
BUILD = ROOT / "node_modules" / ".kwq8-contract-build"
SERVICE = Identity.service_role()
ANON = Identity.anon()


class Recorder:
    def __init__(self, db: TestDatabase) -> None:
        self.db = db
        self.entries: list[dict[str, Any]] = []

    def rpc(self, fn: str, args: dict[str, Any], as_: Identity, expect: str | None = None) -> Any:
        """One RPC; expect=None means it must succeed, else the code it must come back as."""
        try:
            result = self.db.rpc(fn, args, as_=as_)
        except ApiError as exc:
            assert expect is not None, f"{fn} failed: {exc}"
            self._error({"rpc": fn, "args": args}, exc, expect)
            return None
        assert expect is None, f"{fn} answered {result!r}, expected {expect}"
        self.entries.append({"call": {"rpc": fn, "args": args}, "status": 200, "body": result, "expect": None})
        return result

    def insert(self, table: str, row: dict[str, Any], as_: Identity, expect: str) -> None:
        columns = ", ".join(row)
        values = ", ".join(["%s"] * len(row))
        try:
            self.db.query_as(as_, f"insert into public.{table} ({columns}) values ({values})", list(row.values()))
        except ApiError as exc:
            self._error({"from": table, "insert": row}, exc, expect)
            return
        raise AssertionError(f"insert into {table} succeeded")

    def _error(self, call: dict[str, Any], exc: ApiError, expect: str) -> None:
        self.entries.append({"call": call, "status": exc.status, "body": exc.body, "expect": expect})

    def http(self, name: str, response: Any, expect: str | None, schema: str) -> None:
        self.entries.append(
            {
                "call": {"http": name, "schema": schema},
                "status": response.status_code,
                "body": response.json(),
                "expect": expect,
            }
        )


def _record(service: Service, db: TestDatabase) -> list[dict[str, Any]]:
    rec = Recorder(db)
    user = db.create_user()
    stranger = db.create_user()
    uid = user.user_id
    k = lambda: str(uuid.uuid4())  # noqa: E731

    rec.rpc(
        "grant_credits",
        {"user_id": uid, "amount": 50, "source": "promo", "expires_at": "2030-01-01T00:00:00Z", "idempotency_key": k()},
        SERVICE,
    )
    rec.rpc(
        "grant_credits",
        {"user_id": uid, "amount": -1, "source": "promo", "expires_at": None, "idempotency_key": k()},
        SERVICE,
        "CREDIT_010",
    )
    spent = rec.rpc("spend_credits", {"action": "chat_message", "idempotency_key": k()}, user)
    rec.rpc("spend_credits", {"action": "no_such_action", "idempotency_key": k()}, user, "CREDIT_003")
    rec.rpc("spend_credits", {"action": "chat_message", "idempotency_key": k()}, stranger, "CREDIT_001")
    # Anonymous callers have no EXECUTE: 42501, 401 (sign in first).
    rec.rpc("spend_credits", {"action": "chat_message", "idempotency_key": k()}, ANON, "AUTH_004")
    rec.rpc("deduct_credits", {"user_id": uid, "amount": 1, "description": "api", "idempotency_key": k()}, SERVICE)
    rec.rpc(
        "deduct_credits",
        {"user_id": uid, "amount": 0, "description": "api", "idempotency_key": k()},
        SERVICE,
        "CREDIT_010",
    )
    hold = rec.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": k()}, user)
    rec.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": ""}, user, "CREDIT_006")
    rec.rpc("get_credit_summary", {}, user)
    rec.rpc("get_credit_summary", {}, ANON, "AUTH_004")
    contact = {
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
    rec.rpc("set_domain_contact", {"contact": contact}, user)
    rec.rpc("set_domain_contact", {"contact": {**contact, "phone": "55501234"}}, user, "DOM_015")
    rec.rpc("capture_hold", {"user_id": uid, "hold_id": hold["hold_id"], "amount": 1}, SERVICE)
    rec.rpc("capture_hold", {"user_id": uid, "hold_id": hold["hold_id"], "amount": 2}, SERVICE, "CREDIT_008")
    failed = rec.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": k()}, user)
    released = rec.rpc(
        "release_hold", {"user_id": uid, "hold_id": failed["hold_id"], "failure_reason": "generation_failed"}, SERVICE
    )
    assert released["error"]["code"] == "GEN_001"
    rec.rpc("release_hold", {"user_id": uid, "hold_id": str(uuid.uuid4())}, SERVICE, "CREDIT_007")
    rec.rpc("release_hold", {"user_id": uid, "hold_id": "not-a-uuid"}, SERVICE, "VAL_007")  # raw 22P02
    rec.rpc(
        "refund_transaction",
        {"user_id": uid, "transaction_id": spent["transaction_id"], "idempotency_key": k(), "reason": "bug"},
        SERVICE,
    )
    rec.rpc(
        "refund_transaction",
        {"user_id": uid, "transaction_id": str(uuid.uuid4()), "idempotency_key": k(), "reason": "x"},
        SERVICE,
        "CREDIT_011",
    )
    # The browser reads its own hold; a failed generation's hold answers GEN_001.
    rec.rpc("get_hold", {"hold_id": hold["hold_id"]}, user)
    rec.rpc("get_hold", {"hold_id": failed["hold_id"]}, user, "GEN_001")
    streaming = rec.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": k()}, user)
    rec.rpc("extend_hold", {"user_id": uid, "hold_id": streaming["hold_id"]}, SERVICE)
    rec.rpc("extend_hold", {"user_id": stranger.user_id, "hold_id": streaming["hold_id"]}, SERVICE, "CREDIT_007")
    rec.rpc("get_credit_usage", {"days": 30}, user)
    rec.rpc("get_credit_usage", {"days": 0}, user, "VAL_001")
    rec.rpc("run_credit_sweepers", {}, SERVICE)
    rec.rpc("run_payment_jobs", {}, SERVICE)
    rec.rpc("hit_rate_limit", {"bucket": "contract:test", "max_hits": 5, "window_seconds": 60}, SERVICE)
    rec.rpc("hit_rate_limit", {"bucket": "", "max_hits": 5, "window_seconds": 60}, SERVICE, "VAL_001")
    rec.rpc("take_status_call", {"priority": "reconcile"}, SERVICE)
    rec.rpc("take_status_call", {"priority": "nobody"}, SERVICE, "VAL_001")
    rec.rpc("reconcile_candidates", {"max_rows": 5}, SERVICE)
    rec.rpc("refund_batch", {"max_rows": 5}, SERVICE)
    # Trusted-server functions called with a user's token: 42501, 403 (not allowed).
    for fn, args in (
        ("run_credit_sweepers", {}),
        ("run_payment_jobs", {}),
        ("reconcile_candidates", {}),
        ("refund_batch", {}),
        (
            "record_payment_event",
            {"provider": "upayments", "track_id": "t", "notified_result": None, "verified": None, "payload": {}},
        ),
        ("lookup_payment_event", {"provider": "upayments", "track_id": "t", "result": "CAPTURED", "order_id": "o"}),
    ):
        rec.rpc(fn, args, user, "AUTH_012")

    order = rec.rpc(
        "create_checkout", {"user_id": uid, "plan": "basic", "payment_method": "knet", "idempotency_key": k()}, SERVICE
    )
    rec.rpc(
        "create_checkout",
        {"user_id": uid, "plan": "gold", "payment_method": "knet", "idempotency_key": k()},
        SERVICE,
        "VAL_001",
    )
    rec.rpc("preview_checkout", {"user_id": uid, "plan": "pro"}, SERVICE)
    rec.rpc("preview_checkout", {"user_id": uid, "plan": "gold"}, SERVICE, "VAL_001")
    pack = {"user_id": uid, "credit_pack": "pack_50", "payment_method": "knet", "idempotency_key": k()}
    rec.rpc("create_pack_checkout", pack, SERVICE)
    rec.rpc("create_pack_checkout", {**pack, "credit_pack": "pack_1", "idempotency_key": k()}, SERVICE, "VAL_001")
    order_id = order["order_id"]
    track = uuid.uuid4().hex[:20]
    rec.rpc(
        "attach_checkout_charge",
        {"order_id": order_id, "track_id": track, "payment_url": f"https://pay.example/{track}"},
        SERVICE,
    )
    rec.rpc(
        "attach_checkout_charge",
        {"order_id": "kwq8_" + "0" * 32, "track_id": "t", "payment_url": "https://x"},
        SERVICE,
        "PAY_002",
    )
    rec.rpc("get_payment", {"order_id": order_id, "user_id": uid}, SERVICE)
    rec.rpc("get_payment", {"order_id": order_id, "user_id": stranger.user_id}, SERVICE, "PAY_002")
    rec.rpc(
        "lookup_payment_event",
        {"provider": "upayments", "track_id": track, "result": "CAPTURED", "order_id": order_id},
        SERVICE,
    )
    rec.rpc(
        "record_status_check",
        {"order_id": order_id, "verified": status(order_id, "1.000", track, "NOT CAPTURED")},
        SERVICE,
    )
    rec.rpc("record_status_check", {"order_id": "kwq8_" + "0" * 32, "verified": {}}, SERVICE, "PAY_002")
    second = checkout(db, user, "basic")
    rec.rpc("record_checkout_error", {"order_id": second["order_id"], "error": "timeout"}, SERVICE)
    rec.rpc("record_checkout_error", {"order_id": "kwq8_" + "0" * 32, "error": "x"}, SERVICE, "PAY_002")
    track2 = attach(db, second["order_id"])
    rec.rpc(
        "record_payment_event",
        {
            "provider": "upayments",
            "track_id": track2,
            "notified_result": "CAPTURED",
            "verified": status(second["order_id"], second["amount_kwd"], track2),
            "payload": {"track_id": track2},
        },
        SERVICE,
    )
    rec.rpc(
        "confirm_payment",
        {
            "order_id": second["order_id"],
            "track_id": track2,
            "provider_payment_id": "1" * 18,
            "amount_kwd": second["amount_kwd"],
        },
        SERVICE,
    )
    rec.rpc(
        "confirm_payment",
        {"order_id": "kwq8_" + "0" * 32, "track_id": "t", "provider_payment_id": "1", "amount_kwd": 1},
        SERVICE,
        "PAY_002",
    )
    rec.rpc("set_cancel_at_period_end", {"user_id": uid, "cancel": True}, SERVICE)
    rec.rpc("set_cancel_at_period_end", {"user_id": stranger.user_id, "cancel": True}, SERVICE, "SUB_001")
    rec.rpc("schedule_plan_change", {"user_id": uid, "plan": "basic"}, SERVICE)
    rec.rpc("schedule_plan_change", {"user_id": stranger.user_id, "plan": "basic"}, SERVICE, "SUB_001")
    refund = rec.rpc("request_refund", {"order_id": second["order_id"], "reason": "customer asked"}, SERVICE)
    rec.rpc("request_refund", {"order_id": "kwq8_" + "0" * 32, "reason": "x"}, SERVICE, "PAY_002")
    rec.rpc("begin_refund", {"refund_id": refund["refund_id"], "refund_order_id": "r-1"}, SERVICE)
    rec.rpc("begin_refund", {"refund_id": "r-1", "refund_order_id": "r"}, SERVICE, "VAL_007")
    rec.rpc(
        "finish_refund",
        {"refund_id": refund["refund_id"], "outcome": "refunded", "provider": {}, "error": ""},
        SERVICE,
    )
    rec.rpc(
        "finish_refund",
        {"refund_id": str(uuid.uuid4()), "outcome": "refunded", "provider": {}, "error": None},
        SERVICE,
        "PAY_010",
    )
    notify(db, track, "NOT CAPTURED", status(order_id, order["amount_kwd"], track, "NOT CAPTURED"))

    # Direct writes: the validate triggers answer the table's codes; unique and foreign key
    # violations keep their SQLSTATE and constraint name, for toKwq8Error's map.
    project = db.sql(
        "insert into public.projects (user_id, name, slug, subdomain, status) "
        "values (%s, 'Salon', 'salon', %s, 'published') returning id",
        (uid, "s" + uuid.uuid4().hex[:10]),
    )[0]["id"]
    tomorrow = db.scalar("select (now() + interval '1 day')::text")
    taken = db.scalar("select subdomain from public.projects where id = %s", (project,))
    booking = {
        "project_id": str(project),
        "customer_name": "سارة",
        "phone": "55123456",
        "service": "قص",
        "starts_at": tomorrow,
    }
    rec.insert("bookings", {**booking, "phone": "12345"}, ANON, "BOOK_001")
    rec.insert("bookings", {**booking, "customer_name": "x" * 101}, ANON, "BOOK_002")
    rec.insert("contact_messages", {"project_id": str(project), "name": "n", "message": "m"}, ANON, "MSG_001")
    rec.insert("projects", {"name": "x", "slug": "other", "subdomain": taken}, stranger, "PROJ_004")
    rec.insert("projects", {"name": "x", "slug": "salon", "subdomain": "s" + uuid.uuid4().hex[:10]}, user, "PROJ_005")
    rec.insert("projects", {"name": "x", "slug": "ok", "subdomain": "www"}, user, "PROJ_003")
    rec.insert("projects", {"name": None, "slug": "ok2", "subdomain": "s" + uuid.uuid4().hex[:10]}, user, "VAL_010")
    rec.insert("bookings", {**booking, "project_id": str(uuid.uuid4())}, SERVICE, "VAL_008")

    # A deleted project's files: the cleanup job's batch and its report of what Storage answered.
    gone = db.sql(
        "insert into public.projects (user_id, name, slug, subdomain) values (%s, 'Old', 'old', %s) returning id",
        (stranger.user_id, "s" + uuid.uuid4().hex[:10]),
    )[0]["id"]
    db.sql("delete from public.projects where id = %s", (gone,))
    rec.rpc("storage_cleanup_batch", {"max_projects": 5}, SERVICE)
    rec.rpc("storage_cleanup_batch", {"max_projects": 0}, SERVICE, "VAL_001")
    rec.rpc("finish_storage_cleanup", {"project_id": str(gone)}, SERVICE)
    rec.rpc("finish_storage_cleanup", {"project_id": str(uuid.uuid4())}, SERVICE, "VAL_001")

    # The billing service: a failed payment's status answer (PAY_001), a missing order, no token.
    url = f"{service.origin}/billing/payments/{order_id}"
    rec.http(
        "payment failed",
        service.http.get(url, headers=service.auth(user)),
        "PAY_001",
        "GET /billing/payments/{order_id}",
    )
    rec.http("payment of someone else", service.http.get(url, headers=service.auth(stranger)), "PAY_002", "error")
    rec.http("no token", service.http.get(url), "AUTH_004", "error")
    rec.http("expired token", service.http.get(url, headers=service.auth(user, exp=1)), "AUTH_003", "error")
    rec.http("bad checkout body", service.checkout(user, plan="Gold!"), "VAL_001", "error")
    buyer = db.create_user()
    rec.http("checkout", service.checkout(buyer, "pro", "cc"), None, "POST /billing/checkout")
    cancel = service.http.post(
        f"{service.origin}/billing/subscription/cancel", json={"cancel": True}, headers=service.auth(buyer)
    )
    rec.http("cancel without a subscription", cancel, "SUB_001", "error")
    rec.http("health", service.http.get(f"{service.origin}/healthz"), None, "GET /healthz")
    return rec.entries


def _as_json(value: Any) -> Any:
    """Numbers as the JSON numbers PostgREST sends (the test client parses them as Decimal)."""
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_json(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, check=False)


@pytest.fixture(scope="module")
def compiled() -> Path:
    """The generated files and the Node suite compiled by tsc (which type-checks them, strict)."""
    run = _run(["node_modules/.bin/tsc", "-p", "tests/node/tsconfig.json"])
    assert run.returncode == 0, run.stdout + run.stderr
    return BUILD


def test_every_public_function_is_recorded_with_a_result_and_an_error(
    service: Service, billing_db: TestDatabase, tmp_path: Path, compiled: Path
) -> None:
    entries = _record(service, billing_db)
    functions = {
        r["proname"]
        for r in billing_db.sql(
            "select p.proname from pg_proc p where p.pronamespace = 'public'::regnamespace and p.prokind = 'f' "
            "and p.prorettype <> 'trigger'::regtype"
        )
    }
    ok = {e["call"]["rpc"] for e in entries if "rpc" in e["call"] and e["expect"] is None}
    failed = {e["call"]["rpc"] for e in entries if "rpc" in e["call"] and e["expect"] is not None}
    assert functions - ok == set(), "RPCs without a recorded result"
    assert functions - failed == set(), "RPCs without a recorded error path"

    recorded = compiled / "recorded.json"  # kept after the run, for debugging the Node suite
    recorded.write_text(json.dumps(_as_json(entries), ensure_ascii=False, indent=1))
    env = {**os.environ, "KWQ8_RECORDED": str(recorded)}
    run = _run(["node", "--test", str(compiled / "tests" / "node" / "contract.test.js")], env)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    assert "# fail 0" in run.stdout


def test_a_wrong_argument_name_does_not_compile(compiled: Path) -> None:
    run = _run(["node_modules/.bin/tsc", "--noEmit", "-p", "tests/node/tsconfig.wrong.json"])
    assert run.returncode != 0
    errors = [line for line in run.stdout.splitlines() if "error TS" in line]
    # Each deliberate mistake in wrong_calls.ts fails, and nothing else does.
    assert len(errors) == (NODE_DIR / "wrong_calls.ts").read_text().count("// must not compile"), run.stdout
    assert all("wrong_calls.ts" in line for line in errors), run.stdout
