"""The JSON the credit RPCs answer, compared with answers recorded from the database before the
RPCs returned named composite types (tests/fixtures/credit_rpc_wire.json): same keys, same JSON
types, same values, so a frontend written against the old answers keeps working.

Record again (only when a change of shape is intended) with KWQ8_RECORD_WIRE=1.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from kwq8.postgrest import ApiError
from kwq8.testing.database import TestDatabase

from ..credit_helpers import SERVICE, grant

pytest_plugins = ("tests.credit_fixtures",)

FIXTURE = Path(__file__).parents[1] / "fixtures" / "credit_rpc_wire.json"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _shape(value: Any, ids: dict[str, str]) -> Any:
    """JSON with ids numbered in order of appearance; numbers keep their JSON type."""
    if isinstance(value, dict):
        return {k: _shape(v, ids) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(v, ids) for v in value]
    if isinstance(value, str) and _UUID.match(value):
        return ids.setdefault(value, f"<id{len(ids) + 1}>")
    if isinstance(value, Decimal):
        return {"number": str(value)}
    return value


def _scenario(db: TestDatabase) -> dict[str, Any]:
    user = db.create_user()
    grant(db, user, 20, idempotency_key="wire-grant")
    ids: dict[str, str] = {user.user_id or "": "<user>"}
    out: dict[str, Any] = {}

    def call(label: str, fn: str, args: dict[str, Any], as_: Any) -> Any:
        try:
            result = db.rpc(fn, args, as_=as_)
        except ApiError as exc:
            out[label] = {"error": exc.status, "code": exc.code}
            return None
        out[label] = _shape(result, ids)
        return result

    call(
        "grant_credits",
        "grant_credits",
        {
            "user_id": user.user_id,
            "amount": "5",
            "source": "promo",
            "expires_at": None,
            "idempotency_key": "wire-grant-2",
        },
        SERVICE,
    )
    call("spend_credits", "spend_credits", {"action": "chat_message", "idempotency_key": "wire-spend"}, user)
    call("spend_credits_replay", "spend_credits", {"action": "chat_message", "idempotency_key": "wire-spend"}, user)
    call(
        "deduct_credits",
        "deduct_credits",
        {"user_id": user.user_id, "amount": "1.5", "description": "api", "idempotency_key": "wire-deduct"},
        SERVICE,
    )
    hold = call("reserve_credits", "reserve_credits", {"action": "page_generation", "idempotency_key": "wire-h1"}, user)
    call("get_credit_summary_with_hold", "get_credit_summary", {}, user)
    call("capture_hold", "capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": "1"}, SERVICE)
    call(
        "capture_hold_replay",
        "capture_hold",
        {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": "1"},
        SERVICE,
    )
    hold2 = call(
        "reserve_credits_2", "reserve_credits", {"action": "page_generation", "idempotency_key": "wire-h2"}, user
    )
    call("release_hold", "release_hold", {"user_id": user.user_id, "hold_id": hold2["hold_id"]}, SERVICE)
    call("release_hold_replay", "release_hold", {"user_id": user.user_id, "hold_id": hold2["hold_id"]}, SERVICE)
    spent = db.rpc("spend_credits", {"action": "simple_edit", "idempotency_key": "wire-spend-2"}, as_=user)
    call(
        "refund_transaction",
        "refund_transaction",
        {
            "user_id": user.user_id,
            "transaction_id": spent["transaction_id"],
            "idempotency_key": "wire-refund",
            "reason": "bug",
        },
        SERVICE,
    )
    call("get_credit_summary", "get_credit_summary", {}, user)
    call("spend_credits_unknown_action", "spend_credits", {"action": "nope", "idempotency_key": "wire-x"}, user)
    call(
        "release_hold_missing",
        "release_hold",
        {"user_id": user.user_id, "hold_id": "00000000-0000-0000-0000-000000000000"},
        SERVICE,
    )
    call("get_credit_summary_new_user", "get_credit_summary", {}, db.create_user())
    return out


# Fields added since the recording, with the value they take in the recorded calls; nothing
# recorded may change or disappear.
ADDED = {"release_hold": {"failure_reason": None, "error": None}}


def test_credit_rpcs_answer_the_recorded_json(db: TestDatabase) -> None:
    answers = _scenario(db)
    if os.environ.get("KWQ8_RECORD_WIRE"):
        FIXTURE.write_text(json.dumps(answers, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    recorded = json.loads(FIXTURE.read_text())
    for label, added in ADDED.items():
        for name in (label, f"{label}_replay"):
            assert {k: answers[name].pop(k, "missing") for k in added} == added, name
    assert answers == recorded
