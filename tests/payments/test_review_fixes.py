"""Defects a review of the holds, refunds, payments and domains SQL found, each pinned by a test
against the real database: an expired hold the sweeper has not reached yet, refunds sent once
by concurrent workers, a checkout retried after a crash, and the DOM_ codes of the domain RPCs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from psycopg import sql as psql

from kwq8.payments.fake_upayments import FakeUPayments
from kwq8.payments.reconcile import process_refunds
from kwq8.payments.upayments import UPaymentsClient, UPaymentsConfig
from kwq8.postgrest import Identity
from kwq8.service.db import BillingDb
from kwq8.service.errors import ServiceError
from kwq8.testing.database import TestDatabase

from ..credit_helpers import SERVICE, audit_clean, grant, key
from ..domain_helpers import MARGIN, RATE, DomainEnv
from ..payment_helpers import attach, paid_order, payment, payments_audit_clean
from ..service_helpers import API_KEY, API_SECRET, Service

pytest_plugins = (
    "tests.credit_fixtures",
    "tests.domain_fixtures",
    "tests.service_fixtures",
    "tests.upayments_fixtures",
)

# page_generation costs 3 and a hold lives hold_ttl (15 minutes) from NOW.
EXPIRES = "2026-05-10T09:15:00+00:00"
JUST_BEFORE = "2026-05-10T09:14:59+00:00"


def reserve(db: TestDatabase, user: Identity, action: str = "page_generation") -> dict[str, Any]:
    hold: dict[str, Any] = db.rpc("reserve_credits", {"action": action, "idempotency_key": key()}, as_=user)
    return hold


# --------------------------------------------------------------------------- holds past expiry


def test_get_hold_reports_a_hold_past_its_expiry_as_expired_before_the_sweeper(db: TestDatabase) -> None:
    user = db.create_user()
    grant(db, user, 20)
    hold = reserve(db, user)
    db.freeze_time(JUST_BEFORE)
    assert db.rpc("get_hold", {"hold_id": hold["hold_id"]}, as_=user)["status"] == "active"
    db.freeze_time(EXPIRES)
    # Nothing has swept it: the row still says active.
    assert db.scalar("select status from billing.holds where id = %s", (hold["hold_id"],)) == "active"
    assert db.rpc("get_hold", {"hold_id": hold["hold_id"]}, as_=user)["status"] == "expired"


def expected_usage(db: TestDatabase, user: Identity) -> dict[str, Decimal]:
    """Credits used per action, recomputed from the ledger and the holds: spends net of refunds,
    and of each hold what it keeps (captured: the captured amount; active and before its expiry:
    all of it; released, expired or past its expiry: nothing)."""
    rows = db.sql(
        "select t.action, t.transaction_type, t.credits_amount, h.status, h.amount, h.captured_amount,"
        " h.expires_at <= billing.clock() as past"
        " from public.credit_transactions t left join billing.holds h on h.id = t.hold_id"
        " where t.user_id = %s and t.action is not null",
        (user.user_id,),
    )
    used: dict[str, Decimal] = {}
    for row in rows:
        if row["transaction_type"] in ("spend", "refund"):
            amount = -Decimal(row["credits_amount"])
        elif row["transaction_type"] == "hold":
            if row["status"] == "captured":
                amount = Decimal(row["captured_amount"])
            elif row["status"] == "active" and not row["past"]:
                amount = Decimal(row["amount"])
            else:
                amount = Decimal(0)
        else:
            continue
        used[row["action"]] = used.get(row["action"], Decimal(0)) + amount
    return used


def test_get_credit_usage_counts_a_hold_past_its_expiry_as_released(db: TestDatabase) -> None:
    user = db.create_user()
    grant(db, user, 50)
    db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    reserve(db, user)
    captured = reserve(db, user, "complex_feature")
    db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": captured["hold_id"], "amount": "2"}, as_=SERVICE)
    db.freeze_time(JUST_BEFORE)
    reserve(db, user)  # expires 15 minutes after JUST_BEFORE: still active at EXPIRES
    db.freeze_time(EXPIRES)

    def usage() -> dict[str, Decimal]:
        return {r["action"]: Decimal(str(r["credits"])) for r in db.rpc("get_credit_usage", {"days": 1}, as_=user)}

    expected = expected_usage(db, user)
    assert expected == {"chat_message": Decimal(1), "page_generation": Decimal(3), "complex_feature": Decimal(2)}
    assert usage() == expected
    # The sweeper changes nothing the chart shows.
    assert db.rpc("run_credit_sweepers", {}, as_=SERVICE)["holds_released"] == 1
    assert usage() == expected_usage(db, user) == expected
    audit_clean(db)


# --------------------------------------------------------------------------- refunds sent once


def refund_workers(kwq8_db: TestDatabase, fake: FakeUPayments, count: int) -> list[tuple[BillingDb, UPaymentsClient]]:
    """Independent workers: each its own database pool and its own UPayments client."""
    workers = []
    for _ in range(count):
        billing = BillingDb(kwq8_db.url("postgres"), role="service_role", pool_size=1)
        billing.open()
        client = UPaymentsClient(
            UPaymentsConfig(api_key=API_KEY, base_url=fake.base_url, api_secret=API_SECRET, timeout_s=5.0)
        )
        workers.append((billing, client))
    return workers


def test_two_refund_workers_holding_the_same_batch_send_each_refund_once(
    kwq8_db: TestDatabase, billing: BillingDb, client: UPaymentsClient, fake: FakeUPayments
) -> None:
    orders = [paid_order(kwq8_db, billing, client, fake) for _ in range(3)]
    for order_id in orders:
        kwq8_db.rpc("request_refund", {"order_id": order_id, "reason": "customer asked"}, as_=SERVICE)
    workers = refund_workers(kwq8_db, fake, 2)
    # Slow status answers: both workers read the same batch and ask UPayments about the same
    # refund at the same time, so both reach begin_refund for it; create-refund is slow too, so
    # one worker is still inside the call while the other comes to the refund.
    fake.timeout_next("status", delay_s=0.4, count=6)
    fake.timeout_next("refund", delay_s=0.4, count=3)
    start = threading.Barrier(2)
    reports: list[dict[str, Any]] = []

    def work(billing_db: BillingDb, upayments: UPaymentsClient) -> None:
        start.wait()
        reports.append(process_refunds(billing_db, upayments).as_dict())

    threads = [threading.Thread(target=work, args=worker) for worker in workers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        for billing_db, upayments in workers:
            upayments.close()
            billing_db.close()
    assert len(reports) == 2
    # The fake's own record: one create-refund per refund, for its order's charge.
    sent = sorted(r.json()["orderId"] for r in fake.refunds)
    tracks = [payment(kwq8_db, order_id)["track_id"] for order_id in orders]
    assert len(sent) == 3 and sent == sorted({"R" + fake.transaction(t)["tran_id"] for t in tracks})
    assert {payment(kwq8_db, order_id)["status"] for order_id in orders} == {"refunded"}
    payments_audit_clean(kwq8_db)


def test_a_refund_whose_worker_died_after_claiming_it_is_not_sent_again(
    kwq8_db: TestDatabase, billing: BillingDb, client: UPaymentsClient, fake: FakeUPayments
) -> None:
    order_id = paid_order(kwq8_db, billing, client, fake)
    refund = kwq8_db.rpc("request_refund", {"order_id": order_id, "reason": "customer asked"}, as_=SERVICE)
    # The dead worker claimed it (committed) and may have sent it: nobody can know.
    assert kwq8_db.rpc("begin_refund", {"refund_id": refund["refund_id"], "refund_order_id": "R"}, as_=SERVICE) is True
    assert dict(process_refunds(billing, client).outcomes) == {}
    assert fake.refunds == []


# --------------------------------------------------------------------------- one order per name


def checkout_args(env: DomainEnv, user: Identity, project: str, fqdn: str) -> dict[str, Any]:
    """Arguments of domains.create_checkout for a name the service has just checked and priced."""
    env.billing.call_in("domains", "record_availability", p_results=[{"fqdn": fqdn, "available": True}])
    env.billing.call_in(
        "domains", "record_pricing", p_prices=[{"tld": "com", "action": "register", "years": 1, "usd_price": "10.98"}]
    )
    return {
        "p_user": user.user_id,
        "p_project": project,
        "p_fqdn": fqdn,
        "p_unicode": fqdn,
        "p_tld": "com",
        "p_years": 1,
        "p_rate": RATE,
        "p_margin": MARGIN,
        "p_key": key(),
    }


def while_open(env: DomainEnv, first: str, first_args: dict[str, Any], second: Callable[[], Any]) -> Any:
    """Run `first` (a domains or public function) in a transaction left open while `second`
    runs in another session, then commit it. Returns what `second` answered or raised."""
    outcome: list[Any] = []

    def run_second() -> None:
        try:
            outcome.append(second())
        except ServiceError as exc:
            outcome.append(exc)

    conn = env.db.connect()
    with conn.transaction():
        conn.execute("set local role service_role")
        conn.execute(
            psql.SQL("select {}({})").format(
                psql.SQL(first),
                psql.SQL(", ").join(psql.SQL("{} => %s").format(psql.Identifier(name)) for name in first_args),
            ),
            list(first_args.values()),
        )
        thread = threading.Thread(target=run_second)
        thread.start()
        thread.join(1.0)  # the second session runs into whatever the first holds
    thread.join(15)
    assert not thread.is_alive() and len(outcome) == 1
    return outcome[0]


def orders_for(env: DomainEnv, fqdn: str) -> list[dict[str, Any]]:
    return env.db.sql(
        "select o.user_id, o.state, o.error_code, p.order_id, p.status, r.status as refund"
        " from public.domain_orders o join public.payments p on p.id = o.payment_id"
        " left join payments.refunds r on r.payment_id = p.id where o.fqdn = %s order by o.created_at",
        (fqdn,),
    )


@pytest.mark.parametrize("who", ["another user", "the same user"])
def test_two_concurrent_checkouts_of_one_name_open_one_order(env: DomainEnv, who: str) -> None:
    first_user, first_project = env.owner()
    second_user, second_project = env.owner() if who == "another user" else (first_user, first_project)
    fqdn = "race-" + key()[:8] + ".com"
    first = checkout_args(env, first_user, first_project, fqdn)
    second = checkout_args(env, second_user, second_project, fqdn)
    answer = while_open(
        env, "domains.create_checkout", first, lambda: env.billing.call_in("domains", "create_checkout", **second)
    )
    assert isinstance(answer, ServiceError) and answer.code == "DOM_001", answer
    assert [(str(o["user_id"]), o["state"]) for o in orders_for(env, fqdn)] == [
        (first_user.user_id, "awaiting_payment")
    ]
    assert env.audit() == []


def test_two_concurrent_captures_for_one_name_register_one_and_refund_the_other(env: DomainEnv) -> None:
    fqdn = "paid-race-" + key()[:8] + ".com"
    first_user, first_project = env.owner()
    first = env.billing.call_in("domains", "create_checkout", **checkout_args(env, first_user, first_project, fqdn))
    # Its quote ran out unpaid, so another user may check the name out; then both captures
    # arrive at the same time (the first customer paid at the last moment).
    env.db.sql("update public.domain_quotes set expires_at = now() - interval '1 second' where fqdn = %s", (fqdn,))
    second_user, second_project = env.owner()
    second = env.billing.call_in("domains", "create_checkout", **checkout_args(env, second_user, second_project, fqdn))

    def captured(payment_json: dict[str, Any]) -> dict[str, Any]:
        return {
            "order_id": payment_json["order_id"],
            "track_id": attach(env.db, payment_json["order_id"]),
            "provider_payment_id": "100000000000000001",
            "amount_kwd": Decimal(str(payment_json["amount_kwd"])),
            "currency": "KWD",
        }

    first_capture, second_capture = captured(first), captured(second)
    answer = while_open(
        env, "public.confirm_payment", first_capture, lambda: env.billing.call("confirm_payment", **second_capture)
    )
    assert answer["status"] == "paid"
    orders = orders_for(env, fqdn)
    assert [(o["order_id"], o["state"], o["status"]) for o in orders] == [
        (first["order_id"], "queued", "paid"),
        (second["order_id"], "failed", "paid"),
    ]
    assert (orders[1]["error_code"], orders[1]["refund"], orders[0]["refund"]) == ("DOM_001", "requested", None)
    assert env.audit() == []


# --------------------------------------------------------------------------- DOM_ codes for bad input


def refused(env: DomainEnv, function: str, **args: Any) -> str:
    with pytest.raises(ServiceError) as error:
        env.billing.call_in("domains", function, **args)
    return error.value.code


def answer(fqdn: Any, **fields: Any) -> dict[str, Any]:
    return {"fqdn": fqdn, "available": True, "premium": False, "premium_usd": None} | fields


def test_record_availability_refuses_bad_answers_with_their_codes_and_writes_nothing(env: DomainEnv) -> None:
    good = answer("good-name.com")
    for bad, code in (
        (answer("x" * 250 + ".com"), "DOM_002"),
        (answer(None), "DOM_002"),
        (answer("bad name.com"), "DOM_002"),
        (answer("bad_name.com"), "DOM_002"),
        (answer("com"), "DOM_002"),
        (answer("shop.kwq8.com"), "DOM_002"),
        (answer("shop.xyz"), "DOM_003"),
        (answer("fine.com", available="maybe"), "VAL_001"),
        (answer("fine.com", available=None), "VAL_001"),
        ({"fqdn": "fine.com"}, "VAL_001"),
        (answer("fine.com", premium="sometimes"), "VAL_001"),
        (answer("fine.com", premium=True, premium_usd="-5"), "VAL_001"),
        (answer("fine.com", premium=True, premium_usd="lots"), "VAL_001"),
        ("fine.com", "VAL_001"),
    ):
        assert refused(env, "record_availability", p_results=[good, bad]) == code, bad
    assert env.db.sql("select fqdn from domains.availability") == []
    # The same name twice in one batch: the last answer counts.
    twice = [good, answer("good-name.com", available=False)]
    assert env.billing.call_in("domains", "record_availability", p_results=twice) == 1
    assert env.db.sql("select fqdn, available from domains.availability") == [
        {"fqdn": "good-name.com", "available": False}
    ]


def price(tld: Any, **fields: Any) -> dict[str, Any]:
    return {"tld": tld, "action": "register", "years": 1, "usd_price": "10.98"} | fields


def test_record_pricing_refuses_bad_prices_with_their_codes_and_writes_nothing(env: DomainEnv) -> None:
    for bad, code in (
        (price(""), "DOM_003"),
        (price(None), "DOM_003"),
        (price("c_m"), "DOM_003"),
        (price("com", years="x"), "VAL_001"),
        (price("com", years=11), "VAL_001"),
        (price("com", years=0), "VAL_001"),
        (price("com", years=None), "VAL_001"),
        (price("com", action="buy"), "VAL_001"),
        (price("com", usd_price="-1"), "VAL_001"),
        (price("com", usd_price="free"), "VAL_001"),
        (price("com", usd_price=None), "VAL_001"),
        ({"tld": "com", "action": "register", "years": 1}, "VAL_001"),
        ("com", "VAL_001"),
    ):
        assert refused(env, "record_pricing", p_prices=[price("net"), bad]) == code, bad
    assert env.db.sql("select tld from domains.pricing") == []
    twice = [price("net"), price("net", usd_price="12.5")]
    assert env.billing.call_in("domains", "record_pricing", p_prices=twice) == 1
    assert env.db.sql("select tld, usd_price from domains.pricing") == [{"tld": "net", "usd_price": Decimal("12.5")}]


def test_a_display_name_that_is_too_long_is_dom_002_and_writes_nothing(env: DomainEnv) -> None:
    user, project = env.owner()
    long_name = "ك" * 254
    checkout = checkout_args(env, user, project, "long-display.com") | {"p_unicode": long_name}
    assert refused(env, "create_checkout", **checkout) == "DOM_002"
    connect = {"p_user": user.user_id, "p_project": project, "p_records": [], "p_verified": False}
    assert refused(env, "connect_domain", **connect, p_fqdn="own-site.com", p_unicode=long_name) == "DOM_002"
    for table in ("public.domain_quotes", "public.domain_orders", "public.payments", "public.domains"):
        assert env.db.scalar(f"select count(*) from {table}") == 0, table


# --------------------------------------------------------------------------- a checkout charged once


def test_a_checkout_retried_after_its_charge_was_lost_is_not_charged_again(
    service: Service, customer: Identity
) -> None:
    # UPayments creates the charge but its answer never reaches the service (as when the
    # service dies before attach_checkout_charge): nobody has the link, nobody can know.
    service.fake.timeout_next("charge", delay_s=5)
    lost = service.checkout(customer, key="lost-charge")
    assert lost.json()["code"] == "PAY_001"
    [row] = service.db.sql("select order_id from public.payments where user_id = %s", (customer.user_id,))
    again = service.checkout(customer, key="lost-charge")
    assert len(service.fake.charges) == 1  # the fake's own record: no second charge of the order
    assert again.status_code == 409 and again.json()["code"] == "PAY_012", again.text
    closed = service.payment(row["order_id"])
    assert (closed["status"], closed["track_id"]) == ("cancelled", None)
    # The same key again answers the closed checkout, still without a charge.
    closed_again = service.checkout(customer, key="lost-charge")
    assert (closed_again.status_code, closed_again.json()["status"]) == (200, "cancelled")
    assert closed_again.json()["payment_url"] is None and len(service.fake.charges) == 1
    # A new checkout is a new order, charged once.
    fresh = service.checkout(customer)
    assert fresh.status_code == 201 and fresh.json()["order_id"] != row["order_id"]
    assert [c.json()["order"]["id"] for c in service.fake.charges] == [row["order_id"], fresh.json()["order_id"]]


def test_two_concurrent_requests_with_one_key_create_one_charge(service: Service, customer: Identity) -> None:
    service.fake.timeout_next("charge", delay_s=0.3)  # slow, within the client's timeout
    answers: list[httpx.Response] = []
    start = threading.Barrier(2)

    def request() -> None:
        start.wait()
        answers.append(service.checkout(customer, key="double-click"))

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert len(service.fake.charges) == 1
    # One request charges it; the other is told the charge is on its way.
    [charged] = [a for a in answers if a.status_code in (200, 201)]
    [busy] = [a for a in answers if a.status_code == 503]
    assert charged.json()["payment_url"] and busy.json()["code"] == "PAY_005", busy.text
    # Once the charge is attached the same key answers it.
    replay = service.checkout(customer, key="double-click")
    assert replay.status_code == 200 and replay.json()["payment_url"]
    assert len(service.fake.charges) == 1
