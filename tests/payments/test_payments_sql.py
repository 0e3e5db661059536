"""Payments and subscriptions in SQL: checkout, idempotent confirmation, notifications, upgrades."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import NOW, audit_clean, expect_error, grant
from ..payment_helpers import (
    SERVICE,
    attach,
    checkout,
    monthly_remaining,
    notify,
    pay,
    payment,
    payment_grants,
    status,
    subscription,
    user_plan,
)

# Also run on PostgreSQL 17 in CI (scripts/test).
pytestmark = pytest.mark.pg17

pytest_plugins = ("tests.credit_fixtures",)

MID_PERIOD = "2026-05-25T21:00:00+00:00"  # half of the 31-day period May 10 -> June 10


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---------------------------------------------------------------------------------------- checkout


def test_checkout_creates_a_pending_payment_and_retries_return_it(db: TestDatabase, user: Identity) -> None:
    first = checkout(db, user, "basic", "knet", key="k-1")
    assert first["status"] == "pending" and first["kind"] == "new" and first["replay"] is False
    assert first["amount_kwd"] == Decimal("23.000") and str(first["amount_kwd"]) == "23.000"
    assert first["currency"] == "KWD" and first["payment_method"] == "knet"
    assert first["order_id"].startswith("kwq8_") and len(first["order_id"]) <= 40
    again = checkout(db, user, "basic", "knet", key="k-1")
    assert again["order_id"] == first["order_id"] and again["replay"] is True
    other = checkout(db, user, "basic", "cc")
    assert other["order_id"] != first["order_id"]
    assert db.scalar("select count(*) from public.payments where user_id = %s", (user.user_id,)) == 2
    expect_error(lambda: checkout(db, user, "pro", "knet", key="k-1"), "CREDIT_005", 409)


def test_checkout_validates_its_input(db: TestDatabase, user: Identity) -> None:
    expect_error(lambda: checkout(db, user, "gold"), "VAL_001", 400)
    expect_error(lambda: checkout(db, user, "basic", "paypal"), "VAL_001", 400)
    expect_error(lambda: checkout(db, user, "basic", key=""), "CREDIT_006", 400)
    ghost = Identity.user("00000000-0000-4000-8000-000000000001")
    expect_error(lambda: checkout(db, ghost), "CREDIT_014", 404)
    assert db.scalar("select count(*) from public.payments") == 0


def test_attach_charge_is_idempotent_and_refuses_another_track(db: TestDatabase, user: Identity) -> None:
    order = checkout(db, user)
    track = attach(db, order["order_id"], "trk-1")
    attach(db, order["order_id"], track)
    expect_error(lambda: attach(db, order["order_id"], "trk-2"), "PAY_003", 409)
    second = checkout(db, user)
    expect_error(lambda: attach(db, second["order_id"], "trk-1"), "PAY_003", 409)
    expect_error(lambda: attach(db, "kwq8_" + "0" * 32, "trk-3"), "PAY_002", 404)
    assert payment(db, order["order_id"])["track_id"] == "trk-1"


def test_charge_errors_leave_the_payment_pending(db: TestDatabase, user: Identity) -> None:
    order = checkout(db, user)
    db.rpc("record_checkout_error", {"order_id": order["order_id"], "error": "timeout"}, as_=SERVICE)
    row = payment(db, order["order_id"])
    assert (row["status"], row["last_error"], row["track_id"]) == ("pending", "timeout", None)


# ------------------------------------------------------------------------------------ confirmation


def test_capture_activates_the_plan_and_grants_monthly_credits_once(db: TestDatabase, user: Identity) -> None:
    order = checkout(db, user, "basic")
    track = attach(db, order["order_id"])
    verified = status(order["order_id"], "23.000", track)
    event = notify(db, track, "CAPTURED", verified)
    assert (event["outcome"], event["final"], event["duplicate"]) == ("applied", True, False)
    assert event["payment"]["status"] == "paid" and event["payment"]["fulfilment"] == "fulfilled"

    sub = subscription(db, user)
    assert sub is not None
    assert (sub["plan"], sub["status"], sub["cancel_at_period_end"]) == ("basic", "active", False)
    assert sub["current_period_start"] == ts(NOW)
    assert sub["current_period_end"] == ts("2026-06-10T09:00:00+00:00")
    plan = user_plan(db, user)
    assert (plan["plan"], plan["plan_period_start"], plan["plan_period_end"]) == (
        "basic",
        ts(NOW),
        ts("2026-06-10T09:00:00+00:00"),
    )
    # The monthly credits, usable until one period after the one paid for; today's daily bonus
    # comes with the plan.
    assert payment_grants(db, order["order_id"]) == [
        {
            "credits_amount": Decimal("100.00"),
            "expires_at": ts("2026-07-10T09:00:00+00:00"),
            "remaining": Decimal("100.00"),
            "source": "monthly",
        }
    ]
    assert plan["credits_balance"] == Decimal("105.00")

    # However often it is told again, nothing changes.
    for _ in range(3):
        again = notify(db, track, "CAPTURED", verified)
        assert again["duplicate"] is True and again["outcome"] == "applied"
    replay = db.rpc(
        "confirm_payment",
        {"order_id": order["order_id"], "track_id": track, "provider_payment_id": "1", "amount_kwd": "23.000"},
        as_=SERVICE,
    )
    assert replay["replay"] is True and replay["status"] == "paid"
    late = notify(db, track, "NOT CAPTURED", status(order["order_id"], "23.000", track, "NOT CAPTURED"))
    assert late["outcome"] == "late" and late["payment"]["status"] == "paid"
    assert len(payment_grants(db, order["order_id"])) == 1
    assert user_plan(db, user)["credits_balance"] == Decimal("105.00")
    assert db.scalar("select count(*) from payments.provider_events where track_id = %s", (track,)) == 2
    audit_clean(db)


def test_card_payment_confirmed_through_confirm_payment(db: TestDatabase, user: Identity) -> None:
    order = checkout(db, user, "pro", "cc")
    track = attach(db, order["order_id"])
    args = {"order_id": order["order_id"], "track_id": track, "provider_payment_id": "55", "amount_kwd": "38"}
    expect_error(lambda: db.rpc("confirm_payment", {**args, "amount_kwd": "37.999"}, as_=SERVICE), "PAY_003", 409)
    expect_error(lambda: db.rpc("confirm_payment", {**args, "currency": "USD"}, as_=SERVICE), "PAY_003", 409)
    expect_error(lambda: db.rpc("confirm_payment", {**args, "track_id": "other"}, as_=SERVICE), "PAY_003", 409)
    assert payment(db, order["order_id"])["status"] == "pending"
    first = db.rpc("confirm_payment", args, as_=SERVICE)
    assert (first["status"], first["replay"], first["credits_granted"]) == ("paid", False, Decimal("200.00"))
    assert db.rpc("confirm_payment", args, as_=SERVICE)["replay"] is True
    assert payment(db, order["order_id"])["provider_payment_id"] == "55"
    assert len(payment_grants(db, order["order_id"])) == 1


def test_declined_and_cancelled_payments_grant_nothing(db: TestDatabase, user: Identity) -> None:
    declined = checkout(db, user)
    t1 = attach(db, declined["order_id"])
    event = notify(db, t1, "NOT CAPTURED", status(declined["order_id"], "23.000", t1, "NOT CAPTURED"))
    assert (event["outcome"], event["payment"]["status"]) == ("failed", "failed")
    cancelled = checkout(db, user)
    t2 = attach(db, cancelled["order_id"])
    event = notify(db, t2, "CANCELED", status(cancelled["order_id"], "23.000", t2, "CANCELED"))
    assert (event["outcome"], event["payment"]["status"]) == ("cancelled", "cancelled")
    assert payment(db, cancelled["order_id"])["status_reason"] == "UPayments: CANCELED"
    assert subscription(db, user) is None and user_plan(db, user)["plan"] is None
    assert user_plan(db, user)["credits_balance"] == 0
    # A later capture of the same charge is money received: it is honoured.
    event = notify(db, t1, "CAPTURED", status(declined["order_id"], "23.000", t1))
    assert (event["outcome"], event["payment"]["status"]) == ("applied", "paid")
    assert len(payment_grants(db, declined["order_id"])) == 1


def test_status_check_that_disagrees_with_the_webhook_grants_nothing(db: TestDatabase, user: Identity) -> None:
    order = checkout(db, user)
    track = attach(db, order["order_id"])
    # The webhook claims a capture, UPayments says it is still pending: nothing yet, and the
    # event is not final, so a redelivery is checked again.
    event = notify(db, track, "CAPTURED", status(order["order_id"], "23.000", track, "PENDING"))
    assert (event["outcome"], event["final"], event["status_disagrees"]) == ("pending", False, True)
    assert payment_grants(db, order["order_id"]) == [] and payment(db, order["order_id"])["status"] == "pending"
    event = notify(db, track, "CAPTURED", status(order["order_id"], "23.000", track))
    assert (event["outcome"], event["final"], event["status_disagrees"]) == ("applied", True, False)
    row = db.sql("select deliveries, outcome from payments.provider_events where track_id = %s", (track,))
    assert row == [{"deliveries": 2, "outcome": "applied"}]

    other = checkout(db, user, "basic")
    t2 = attach(db, other["order_id"])
    # The webhook claims a capture, the status still says NOT CAPTURED: nothing is closed and the
    # event is not final, so the genuine redelivery once the capture shows is applied.
    event = notify(db, t2, "CAPTURED", status(other["order_id"], "23.000", t2, "NOT CAPTURED"))
    assert (event["outcome"], event["final"], event["status_disagrees"]) == ("pending", False, True)
    assert payment(db, other["order_id"])["status"] == "pending"
    assert payment_grants(db, other["order_id"]) == []
    event = notify(db, t2, "CAPTURED", status(other["order_id"], "23.000", t2))
    assert (event["outcome"], event["final"], event["duplicate"]) == ("applied", True, False)
    assert len(payment_grants(db, other["order_id"])) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"order_id": "kwq8_" + "f" * 32},
        {"track_id": "someone-else"},
    ],
)
def test_capture_that_does_not_bind_to_the_order_grants_nothing(
    db: TestDatabase, user: Identity, change: dict[str, str]
) -> None:
    order = checkout(db, user)
    track = attach(db, order["order_id"])
    event = notify(db, track, "CAPTURED", {**status(order["order_id"], "23.000", track), **change})
    assert (event["outcome"], event["final"]) == ("mismatch", False)
    assert payment(db, order["order_id"])["status"] == "pending"
    assert payment_grants(db, order["order_id"]) == [] and subscription(db, user) is None


@pytest.mark.parametrize("change", [{"amount": "2.300"}, {"amount": "23.0001"}, {"currency": "USD"}])
def test_capture_of_the_wrong_amount_is_kept_for_review(
    db: TestDatabase, user: Identity, change: dict[str, str]
) -> None:
    order = checkout(db, user)
    track = attach(db, order["order_id"])
    event = notify(db, track, "CAPTURED", {**status(order["order_id"], "23.000", track), **change})
    assert (event["outcome"], event["final"]) == ("needs_review", True)
    row = payment(db, order["order_id"])
    assert row["status"] == "needs_review" and row["paid_at"] is not None and row["fulfilment"] is None
    assert row["captured_currency"] == change.get("currency", "KWD")
    assert payment_grants(db, order["order_id"]) == [] and subscription(db, user) is None
    # Never closed by the job, whatever its age.
    db.freeze_time("2026-06-10T09:00:00+00:00")
    db.rpc("run_payment_jobs", {}, as_=SERVICE)
    assert payment(db, order["order_id"])["status"] == "needs_review"


def test_notification_for_an_unknown_payment_writes_nothing(db: TestDatabase, user: Identity) -> None:
    expect_error(lambda: notify(db, "nope", "CAPTURED", status("kwq8_" + "0" * 32, "23", "nope")), "PAY_002", 404)
    order = checkout(db, user)
    track = attach(db, order["order_id"])
    # Without a status answer nothing can settle a pending payment.
    expect_error(lambda: notify(db, track, "CAPTURED", None), "VAL_001", 400)
    assert db.scalar("select count(*) from payments.provider_events") == 0


def test_payment_found_by_the_order_id_upayments_reports(db: TestDatabase, user: Identity) -> None:
    order = checkout(db, user)  # the charge answer never reached us: no track id stored
    event = notify(db, "trk-late", "CAPTURED", status(order["order_id"], "23.000", "trk-late"))
    assert event["outcome"] == "applied" and payment(db, order["order_id"])["track_id"] == "trk-late"


# --------------------------------------------------------------------------- renewals and upgrades


def test_paying_while_active_extends_from_the_period_end(db: TestDatabase, user: Identity) -> None:
    first = pay(db, user, "basic")
    db.freeze_time("2026-06-01T09:00:00+00:00")
    renewal = checkout(db, user, "basic")
    assert (renewal["kind"], renewal["amount_kwd"]) == ("renewal", Decimal("23.000"))
    track = attach(db, renewal["order_id"])
    notify(db, track, "CAPTURED", status(renewal["order_id"], "23.000", track))
    sub = subscription(db, user)
    assert sub is not None
    assert (sub["current_period_start"], sub["current_period_end"]) == (ts(NOW), ts("2026-07-10T09:00:00+00:00"))
    assert user_plan(db, user)["plan_period_end"] == ts("2026-07-10T09:00:00+00:00")
    assert [g["expires_at"] for g in payment_grants(db, renewal["order_id"])] == [ts("2026-08-10T09:00:00+00:00")]
    assert len(payment_grants(db, first["order_id"])) == 1
    audit_clean(db)


def test_paying_after_the_period_ended_starts_a_new_one(db: TestDatabase, user: Identity) -> None:
    pay(db, user, "basic")
    db.freeze_time("2026-06-20T09:00:00+00:00")  # ten days after the end, before any job ran
    again = checkout(db, user, "basic")
    assert again["kind"] == "new"
    track = attach(db, again["order_id"])
    notify(db, track, "CAPTURED", status(again["order_id"], "23.000", track))
    sub = subscription(db, user)
    assert sub is not None
    assert (sub["status"], sub["current_period_start"], sub["current_period_end"]) == (
        "active",
        ts("2026-06-20T09:00:00+00:00"),
        ts("2026-07-20T09:00:00+00:00"),
    )
    # The lapsed period's monthly credits ended with it; the new period's are there.
    assert monthly_remaining(db, user) == Decimal("100.00")
    audit_clean(db)


def test_upgrade_mid_period_charges_and_grants_the_prorated_difference(db: TestDatabase, user: Identity) -> None:
    pay(db, user, "basic")
    db.freeze_time(MID_PERIOD)
    upgrade = checkout(db, user, "pro", "cc")
    # Half of the 31-day period is left: (38 - 23) * 0.5 KWD and (200 - 100) * 0.5 credits.
    assert upgrade["kind"] == "upgrade" and upgrade["amount_kwd"] == Decimal("7.500")
    assert upgrade["proration"] == {
        "from_plan": "basic",
        "from_price_kwd": Decimal("23.000"),
        "to_price_kwd": Decimal("38.000"),
        "period_end": "2026-06-10T09:00:00+00:00",
        "fraction": Decimal("0.500000"),
        "credits": Decimal("50.00"),
    }
    track = attach(db, upgrade["order_id"])
    event = notify(db, track, "CAPTURED", status(upgrade["order_id"], "7.5", track))
    assert event["outcome"] == "applied" and str(event["payment"]["credits_granted"]) == "50.00"
    sub = subscription(db, user)
    assert sub is not None
    assert (sub["plan"], sub["current_period_start"], sub["current_period_end"]) == (
        "pro",
        ts(NOW),
        ts("2026-06-10T09:00:00+00:00"),
    )
    assert user_plan(db, user)["plan"] == "pro"
    assert payment_grants(db, upgrade["order_id"]) == [
        {
            "credits_amount": Decimal("50.00"),
            "expires_at": ts("2026-07-10T09:00:00+00:00"),
            "remaining": Decimal("50.00"),
            "source": "monthly",
        }
    ]
    # The basic credits already granted for the period stay.
    assert monthly_remaining(db, user) == Decimal("150.00")
    audit_clean(db)


def test_upgrade_close_to_the_period_end_costs_at_least_the_minimum(db: TestDatabase, user: Identity) -> None:
    pay(db, user, "basic")
    db.freeze_time("2026-06-10T08:59:00+00:00")  # one minute left
    upgrade = checkout(db, user, "enterprise")
    # 52 KWD * 60 s / 31 days is a few fils; 400 credits * 60 s / 31 days rounds down to nothing.
    assert upgrade["amount_kwd"] == Decimal("0.100") and str(upgrade["proration"]["credits"]) == "0.00"
    track = attach(db, upgrade["order_id"])
    event = notify(db, track, "CAPTURED", status(upgrade["order_id"], "0.1", track))
    assert event["outcome"] == "applied" and payment_grants(db, upgrade["order_id"]) == []
    assert user_plan(db, user)["plan"] == "enterprise"


def test_downgrade_or_same_price_switch_mid_period_is_refused(db: TestDatabase, user: Identity) -> None:
    pay(db, user, "pro")
    err = expect_error(lambda: checkout(db, user, "basic"), "PAY_004", 409)
    assert err.message == "يمكنك الانتقال إلى باقة أقل عند انتهاء فترتك الحالية"
    db.freeze_time("2026-06-10T09:00:00+00:00")  # the period is over: any plan may be bought
    assert checkout(db, user, "basic")["kind"] == "new"


def test_upgrade_paid_after_the_subscription_changed_needs_review(db: TestDatabase, user: Identity) -> None:
    pay(db, user, "basic")
    db.freeze_time(MID_PERIOD)
    upgrade = checkout(db, user, "pro")
    track = attach(db, upgrade["order_id"])
    db.freeze_time("2026-06-11T09:00:00+00:00")  # the basic period ended before the customer paid
    event = notify(db, track, "CAPTURED", status(upgrade["order_id"], upgrade["amount_kwd"], track))
    assert event["outcome"] == "needs_review"
    row = payment(db, upgrade["order_id"])
    assert (row["status"], row["fulfilment"], row["credits_granted"]) == ("paid", "needs_review", 0)
    assert "not active" in row["status_reason"]
    assert payment_grants(db, upgrade["order_id"]) == []
    sub = subscription(db, user)
    assert sub is not None and sub["status"] == "expired" and user_plan(db, user)["plan"] is None
    audit_clean(db)


# ------------------------------------------------------------------------------------------ access


def test_only_service_role_may_call_the_payment_functions(db: TestDatabase, user: Identity, anon: Identity) -> None:
    args = {"user_id": user.user_id, "plan": "basic", "payment_method": "knet", "idempotency_key": "k"}
    for who, code in ((user, "42501"), (anon, "42501")):
        with pytest.raises(ApiError) as info:
            db.rpc("create_checkout", args, as_=who)
        assert info.value.code == code
    for function in (
        "payments.create_checkout(uuid, text, text, text)",
        "payments.record_payment_event(text, text, text, jsonb, jsonb)",
        "payments.run_payment_jobs()",
        "public.run_payment_jobs()",
        "public.hit_rate_limit(text, integer, integer)",
    ):
        for role in ("anon", "authenticated"):
            assert db.scalar("select has_function_privilege(%s, %s, 'execute')", (role, function)) is False


def test_owners_read_their_own_payments_and_subscription(db: TestDatabase, user: Identity, anon: Identity) -> None:
    paid = pay(db, user)
    other = db.create_user()
    checkout(db, other)
    assert db.query_as(user, "select order_id, status from public.payments") == [(paid["order_id"], "paid")]
    assert db.query_as(user, "select plan, status from public.subscriptions") == [("basic", "active")]
    assert db.query_as(other, "select count(*) from public.subscriptions") == [(0,)]
    assert db.query_as(other, "select count(*) from public.payments") == [(1,)]
    for statement in (
        "update public.payments set status = 'paid'",
        "delete from public.subscriptions",
        "select * from payments.provider_events",
    ):
        with pytest.raises(ApiError) as info:
            db.query_as(user, statement)
        assert info.value.code == "42501"
    with pytest.raises(ApiError):
        db.query_as(anon, "select * from public.payments")


def test_error_codes_are_catalogued(db: TestDatabase) -> None:
    rows = db.sql(
        "select code, http_status from public.error_codes where code in "
        "('PAY_002', 'PAY_003', 'PAY_004', 'PAY_005', 'PAY_006', 'RATE_001', 'SUB_001', 'AUTH_005')"
    )
    assert {r["code"]: r["http_status"] for r in rows} == {
        "PAY_002": 404,
        "PAY_003": 409,
        "PAY_004": 409,
        "PAY_005": 503,
        "PAY_006": 401,
        "RATE_001": 429,
        "SUB_001": 404,
        "AUTH_005": 401,
    }


def test_cancel_at_period_end_is_a_switch(db: TestDatabase, user: Identity) -> None:
    expect_error(
        lambda: db.rpc("set_cancel_at_period_end", {"user_id": user.user_id, "cancel": True}, as_=SERVICE),
        "SUB_001",
        404,
    )
    pay(db, user)
    for value in (True, True, False, True):
        result = db.rpc("set_cancel_at_period_end", {"user_id": user.user_id, "cancel": value}, as_=SERVICE)
        assert result["cancel_at_period_end"] is value
    renewal = checkout(db, user)
    track = attach(db, renewal["order_id"])
    notify(db, track, "CAPTURED", status(renewal["order_id"], "23.000", track))
    sub = subscription(db, user)
    assert sub is not None and sub["cancel_at_period_end"] is False


# -------------------------------------------------------------------------------------- rate limits


def test_rate_limit_counts_per_bucket_and_window(db: TestDatabase) -> None:
    def hit(bucket: str) -> dict[str, Any]:
        result: dict[str, Any] = db.rpc(
            "hit_rate_limit", {"bucket": bucket, "max_hits": 2, "window_seconds": 60}, as_=SERVICE
        )
        return result

    assert [hit("a")["allowed"] for _ in range(3)] == [True, True, False]
    assert hit("b")["allowed"] is True
    assert hit("a")["retry_after"] == 60  # NOW is on a minute boundary
    db.freeze_time("2026-05-10T09:01:00+00:00")
    assert hit("a") == {"allowed": True, "hits": 1, "limit": 2, "retry_after": 60}
    expect_error(
        lambda: db.rpc("hit_rate_limit", {"bucket": "", "max_hits": 2, "window_seconds": 60}, as_=SERVICE), "VAL_001"
    )


def test_pre_request_limits_data_api_writes(kwq8_db: TestDatabase) -> None:
    db = kwq8_db
    db.freeze_time(NOW)
    db.sql("update ratelimit.settings set api_user_writes_per_window = 3, api_ip_writes_per_window = 2")
    # On by default: the migrations configured it for this database.
    api = db.api()
    user, other = db.create_user(), db.create_user()
    for _ in range(3):
        with api.request(user, method="POST") as cur:
            cur.execute("select 1")
    with pytest.raises(ApiError) as info, api.request(user, method="POST"):
        pass
    err = info.value
    assert (err.status, err.code, err.message) == (429, "RATE_001", "طلبات كثيرة، حاول بعد قليل")
    assert err.headers == {"Retry-After": "60"}
    # Reads, read-only calls, other users and service_role are not counted against the user.
    with api.request(user, method="GET") as cur:
        cur.execute("select 1")
    with api.request(user, method="POST", read_only=True) as cur:  # a POST to a stable function
        cur.execute("select 1")
    with api.request(other, method="PATCH") as cur:
        cur.execute("select 1")
    for _ in range(5):
        with api.request(SERVICE, method="POST") as cur:
            cur.execute("select 1")
    # Anonymous writes count per client address: the right-most X-Forwarded-For entry, which
    # Supabase's gateway appends (what the client wrote before it is not trusted).
    anon = Identity.anon()
    for xff in ("203.0.113.7", "10.0.0.1, 203.0.113.7"):
        with api.request(anon, method="POST", headers={"X-Forwarded-For": xff}) as cur:
            cur.execute("select 1")
    with (
        pytest.raises(ApiError) as anon_info,
        api.request(anon, method="POST", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}),
    ):
        pass
    assert anon_info.value.code == "RATE_001"
    with api.request(anon, method="POST", headers={"X-Forwarded-For": "203.0.113.7, 198.51.100.1"}) as cur:
        cur.execute("select 1")
    with api.request(anon, method="POST", headers={"X-Forwarded-For": "not an ip"}) as cur:
        cur.execute("select 1")


# ---------------------------------------------------------------------------------- property test

RESULTS = ["CAPTURED", "NOT CAPTURED", "CANCELED", "PENDING", "ERROR", None]
notification = st.tuples(
    st.sampled_from(RESULTS),  # what the webhook claims
    st.sampled_from(RESULTS[:-1]),  # what get-payment-status answers
    st.sampled_from(["exact", "wrong_amount", "no_status"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(notification, min_size=1, max_size=8))
def test_any_sequence_of_notifications_grants_at_most_once(
    db: TestDatabase, sequence: list[tuple[str | None, str, str]]
) -> None:
    user = db.create_user()
    grant(db, user, 5)
    order = checkout(db, user)
    track = attach(db, order["order_id"])
    captured_and_bound = False
    for notified, verified_result, variant in sequence:
        verified: dict[str, Any] | None = status(order["order_id"], "23.000", track, verified_result)
        if variant == "wrong_amount":
            verified = {**status(order["order_id"], "23.000", track, verified_result), "amount": "2.3"}
        elif variant == "no_status":
            verified = None
        try:
            event = notify(db, track, notified, verified)
        except ApiError as exc:
            assert variant == "no_status" and exc.code == "VAL_001"
            continue
        captured_and_bound |= verified_result == "CAPTURED" and variant == "exact" and event["outcome"] == "applied"
        grants = payment_grants(db, order["order_id"])
        assert len(grants) <= 1
        row = payment(db, order["order_id"])
        assert (row["status"] == "paid") == (len(grants) == 1)
    assert len(payment_grants(db, order["order_id"])) == (1 if captured_and_bound else 0)
    events = db.sql(
        "select event_key, count(*) as n from payments.provider_events where track_id = %s group by event_key", (track,)
    )
    assert all(e["n"] == 1 for e in events)
    audit_clean(db)
