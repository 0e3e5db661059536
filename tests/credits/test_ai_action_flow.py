"""The AI action flow around a hold: the browser reserves and watches its hold, the generation
server (service_role) extends it while a long generation streams, then captures or releases it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import NOW, SERVICE, expect_error, grant

pytest_plugins = ("tests.credit_fixtures",)


def reserve(db: TestDatabase, user: Identity, action: str = "complex_feature") -> dict:
    result: dict = db.rpc("reserve_credits", {"action": action, "idempotency_key": str(uuid.uuid4())}, as_=user)
    return result


def test_generation_server_extends_a_hold_a_bounded_number_of_times(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 20)
    hold = reserve(db, user)
    now = datetime.fromisoformat(NOW)
    db.freeze_time((now + timedelta(minutes=10)).isoformat())
    extended = db.rpc("extend_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE)
    # One hold_ttl (15 minutes) from now, never shorter than it was.
    assert datetime.fromisoformat(extended["expires_at"]) == now + timedelta(minutes=25)
    assert extended["extensions_left"] == 7
    for left in range(6, -1, -1):
        assert (
            db.rpc("extend_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE)["extensions_left"]
            == left
        )
    expect_error(
        lambda: db.rpc("extend_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE),
        "CREDIT_016",
        409,
    )
    # Another user's hold is a missing hold; the browser cannot extend at all.
    other = db.create_user()
    expect_error(
        lambda: db.rpc("extend_hold", {"user_id": other.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE),
        "CREDIT_007",
        404,
    )
    expect_error(
        lambda: db.rpc("extend_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=user), "42501"
    )


def test_extended_hold_outlives_its_first_expiry_and_an_expired_one_cannot_be_extended(
    db: TestDatabase, user: Identity
) -> None:
    grant(db, user, 20)
    now = datetime.fromisoformat(NOW)
    kept, dropped = reserve(db, user), reserve(db, user)
    db.freeze_time((now + timedelta(minutes=14)).isoformat())
    db.rpc("extend_hold", {"user_id": user.user_id, "hold_id": kept["hold_id"]}, as_=SERVICE)
    db.freeze_time((now + timedelta(minutes=20)).isoformat())
    db.rpc("run_credit_sweepers", as_=SERVICE)
    assert db.rpc("get_hold", {"hold_id": kept["hold_id"]}, as_=user)["status"] == "active"
    assert db.rpc("get_hold", {"hold_id": dropped["hold_id"]}, as_=user)["status"] == "expired"
    expect_error(
        lambda: db.rpc("extend_hold", {"user_id": user.user_id, "hold_id": dropped["hold_id"]}, as_=SERVICE),
        "CREDIT_009",
    )


def test_browser_reads_only_its_own_holds(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 20)
    hold = reserve(db, user)
    status = db.rpc("get_hold", {"hold_id": hold["hold_id"]}, as_=user)
    assert (status["status"], str(status["amount"])) == ("active", "4.00")
    other = db.create_user()
    expect_error(lambda: db.rpc("get_hold", {"hold_id": hold["hold_id"]}, as_=other), "CREDIT_007", 404)
    expect_error(lambda: db.rpc("get_hold", {"hold_id": hold["hold_id"]}, as_=Identity.anon()), "42501")


def test_capture_release_and_refund_refuse_another_users_hold_or_entry(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 20)
    other = db.create_user()
    hold = reserve(db, user)
    spent = db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": str(uuid.uuid4())}, as_=user)
    before = db.scalar("select count(*) from public.credit_transactions")
    wrong = {"user_id": other.user_id, "hold_id": hold["hold_id"]}
    expect_error(lambda: db.rpc("capture_hold", {**wrong, "amount": "1"}, as_=SERVICE), "CREDIT_007", 404)
    expect_error(lambda: db.rpc("release_hold", wrong, as_=SERVICE), "CREDIT_007", 404)
    refund = {"transaction_id": spent["transaction_id"], "idempotency_key": str(uuid.uuid4()), "reason": "GEN_001"}
    expect_error(
        lambda: db.rpc("refund_transaction", {**refund, "user_id": other.user_id}, as_=SERVICE), "CREDIT_011", 404
    )
    assert db.scalar("select count(*) from public.credit_transactions") == before
    # The hold's own user resolves it.
    captured = db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": "1"}, as_=SERVICE)
    assert str(captured["charged"]) == "1.00"
    assert db.rpc("refund_transaction", {**refund, "user_id": user.user_id}, as_=SERVICE)["refunded"] == 1
    # The signatures without the user are gone.
    expect_error(lambda: db.rpc("release_hold", {"hold_id": hold["hold_id"]}, as_=SERVICE), "PGRST202")


def test_failed_generation_returns_the_credits_and_the_browser_reads_gen_001(db: TestDatabase, user: Identity) -> None:
    grant(db, user, 20)
    hold = reserve(db, user)
    assert db.rpc("get_credit_summary", as_=user)["held"] == 4
    released = db.rpc(
        "release_hold",
        {"user_id": user.user_id, "hold_id": hold["hold_id"], "failure_reason": "generation_failed"},
        as_=SERVICE,
    )
    assert (released["status"], released["failure_reason"], released["error"]["code"]) == (
        "released",
        "generation_failed",
        "GEN_001",
    )
    assert released["error"]["message"] == "فشل إنشاء الموقع"
    assert str(released["balance"]) == "20.00"
    # The browser's next read of its hold answers GEN_001 (HTTP 500 from the catalogue).
    error = expect_error(lambda: db.rpc("get_hold", {"hold_id": hold["hold_id"]}, as_=user), "GEN_001", 500)
    assert error.message == "فشل إنشاء الموقع"
    # A retry of the release answers the same; a cancelled generation is no error.
    again = db.rpc("release_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE)
    assert again["error"]["code"] == "GEN_001"
    other = reserve(db, user)
    cancelled = db.rpc(
        "release_hold",
        {"user_id": user.user_id, "hold_id": other["hold_id"], "failure_reason": "cancelled"},
        as_=SERVICE,
    )
    assert (cancelled["failure_reason"], cancelled["error"]) == ("cancelled", None)
    assert db.rpc("get_hold", {"hold_id": other["hold_id"]}, as_=user)["status"] == "released"
    expect_error(
        lambda: db.rpc(
            "release_hold",
            {"user_id": user.user_id, "hold_id": other["hold_id"], "failure_reason": "oops"},
            as_=SERVICE,
        ),
        "VAL_006",
    )
    entry = db.sql(
        "select description_ar from public.credit_transactions where hold_id = %s and transaction_type = 'release'",
        (hold["hold_id"],),
    )
    assert entry == [{"description_ar": "إرجاع رصيد: فشل ميزة متقدمة"}]
