"""Credits under real parallel connections, each call one PostgREST-style transaction."""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

from ..conftest import run_cli
from ..credit_helpers import SERVICE, audit_clean, grant, key

THREADS = 16


def run_parallel(worker: Any, count: int = THREADS) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = worker(index)
        except BaseException as exc:  # surfaced below, with the thread's traceback
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_parallel_spends_for_one_user_get_exactly_the_credits_there_are(kwq8_db: TestDatabase) -> None:
    user = kwq8_db.create_user()
    k = 23
    grant(kwq8_db, user, k)  # covers exactly k chat messages
    apis = [kwq8_db.api() for _ in range(THREADS)]

    def spend_three(i: int) -> Counter[str]:
        outcome: Counter[str] = Counter()
        for _ in range(3):
            try:
                apis[i].rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
                outcome["ok"] += 1
            except ApiError as exc:
                outcome[exc.code] += 1
        return outcome

    totals = sum(run_parallel(spend_three), Counter())
    assert totals == Counter({"ok": k, "CREDIT_001": 3 * THREADS - k})
    assert kwq8_db.scalar("select credits_balance from public.users where id = %s", (user.user_id,)) == 0
    assert kwq8_db.scalar("select min(balance_after) from public.credit_transactions") == 0
    audit_clean(kwq8_db)


def test_parallel_retries_of_one_key_charge_once(kwq8_db: TestDatabase) -> None:
    """A browser retrying while the first request is still in flight: every copy gets the first
    answer, and the credits move once (the copies that lost the race give back what they took)."""
    user = kwq8_db.create_user()
    grant(kwq8_db, user, 10)
    kwq8_db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)  # upkeep done
    apis = [kwq8_db.api() for _ in range(THREADS)]
    k = key()
    args = {"action": "page_generation", "idempotency_key": k, "description": "home"}
    results = run_parallel(lambda i: apis[i].rpc("spend_credits", args, as_=user))
    assert len({r["transaction_id"] for r in results}) == 1
    assert {(r["charged"], r["balance"]) for r in results} == {(Decimal("3.00"), Decimal("6.00"))}
    assert kwq8_db.scalar("select credits_balance from public.users where id = %s", (user.user_id,)) == 6
    assert kwq8_db.scalar("select sum(remaining) from billing.grants where user_id = %s", (user.user_id,)) == 6
    assert kwq8_db.scalar("select count(*) from public.credit_transactions where idempotency_key = %s", (k,)) == 1
    audit_clean(kwq8_db)


def test_parallel_first_calls_of_the_day_grant_one_daily_bonus(kwq8_db: TestDatabase) -> None:
    user = kwq8_db.create_user()
    kwq8_db.sql(
        "update public.users set plan = 'enterprise', plan_period_start = '2026-05-01', "
        "plan_period_end = '2026-06-01' where id = %s",
        (user.user_id,),
    )
    kwq8_db.freeze_time("2026-05-10T12:00:00+00:00")
    apis = [kwq8_db.api() for _ in range(THREADS)]
    results = run_parallel(lambda i: apis[i].rpc("get_credit_summary", {}, as_=user))
    assert {r["daily_bonus"]["amount"] for r in results} == {Decimal("15.00")}
    assert kwq8_db.scalar("select count(*) from billing.grants where source = 'daily_bonus'") == 1
    audit_clean(kwq8_db)


class SharedClock:
    """A clock every thread advances, so holds and grants expire during the workload."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def tick(self, rng: random.Random) -> str:
        with self._lock:
            self._now += dt.timedelta(seconds=rng.randint(0, 10))
            return self._now.isoformat()


ALLOWED = {"CREDIT_001", "CREDIT_002", "CREDIT_004", "CREDIT_008", "CREDIT_009", "CREDIT_012"}
ACTIONS = [
    "chat_message",
    "simple_edit",
    "component_generation",
    "page_generation",
    "complex_feature",
    "banana_image",
    "deployment",
]


def test_randomized_mixed_workload_keeps_the_books_balanced(kwq8_db: TestDatabase) -> None:
    users = [kwq8_db.create_user() for _ in range(6)]
    for i, u in enumerate(users):
        plan = ["basic", "premium", None][i % 3]
        if plan:
            kwq8_db.sql(
                "update public.users set plan = %s, plan_period_start = '2026-05-01', "
                "plan_period_end = '2026-06-01' where id = %s",
                (plan, u.user_id),
            )
    kwq8_db.sql("update billing.settings set hold_ttl = interval '10 minutes'")
    clock = SharedClock(dt.datetime(2026, 5, 10, 20, 0, tzinfo=dt.UTC))  # crosses Kuwait midnight
    kwq8_db.freeze_time(clock.tick(random.Random(0)))
    for u in users:
        grant(kwq8_db, u, 30)
    holds: dict[str, list[tuple[str, Decimal]]] = {u.user_id or "": [] for u in users}
    spends: list[tuple[str, str]] = []  # (transaction id, its user)
    shared_lock = threading.Lock()
    outcomes: Counter[str] = Counter()
    apis = [kwq8_db.api() for _ in range(THREADS)]

    def worker(index: int) -> None:
        rng = random.Random(index)
        api = apis[index]
        done: list[tuple[str, dict[str, Any], Identity, Any]] = []
        for _ in range(45):
            api.settings["kwq8.frozen_now"] = clock.tick(rng)
            user = rng.choice(users)
            op = rng.choice(
                ["spend", "spend", "reserve", "capture", "release", "grant", "refund", "retry", "summary", "sweep"]
            )
            call: tuple[str, dict[str, Any], Identity] | None = None
            if op == "spend":
                call = ("spend_credits", {"action": rng.choice(ACTIONS), "idempotency_key": key()}, user)
            elif op == "reserve":
                call = ("reserve_credits", {"action": rng.choice(ACTIONS), "idempotency_key": key()}, user)
            elif op in ("capture", "release"):
                with shared_lock:
                    pool = holds[user.user_id or ""]
                    hold = rng.choice(pool) if pool else None
                if hold is None:
                    continue
                args: dict[str, Any] = {"user_id": user.user_id, "hold_id": hold[0]}
                if op == "capture" and rng.random() < 0.5:
                    args["amount"] = str(Decimal(rng.randint(0, int(hold[1] * 2))) / 2)
                call = (f"{op}_hold", args, SERVICE)
            elif op == "grant":
                expires = (
                    None
                    if rng.random() < 0.3
                    else (
                        dt.datetime.fromisoformat(api.settings["kwq8.frozen_now"])
                        + dt.timedelta(minutes=rng.randint(1, 20))
                    ).isoformat()
                )
                call = (
                    "grant_credits",
                    {
                        "user_id": user.user_id,
                        "amount": str(rng.randint(1, 12)),
                        "source": rng.choice(["promo", "purchase", "adjustment"]),
                        "expires_at": expires,
                        "idempotency_key": key(),
                    },
                    SERVICE,
                )
            elif op == "refund":
                with shared_lock:
                    spent = rng.choice(spends) if spends else None
                if spent is None:
                    continue
                tx, owner = spent
                call = (
                    "refund_transaction",
                    {"user_id": owner, "transaction_id": tx, "idempotency_key": key(), "reason": "GEN_001"},
                    SERVICE,
                )
            elif op == "retry" and done:
                name, args, who, first = rng.choice(done)
                if name in ("spend_credits", "grant_credits", "refund_transaction", "reserve_credits"):
                    assert api.rpc(name, args, as_=who) == first, (name, args)
                    outcomes["retry_same_result"] += 1
                continue
            elif op == "summary":
                call = ("get_credit_summary", {}, user)
            elif op == "sweep":
                call = ("run_credit_sweepers", {}, SERVICE)
            if call is None:
                continue
            name, args, who = call
            try:
                result = api.rpc(name, args, as_=who)
            except ApiError as exc:
                assert exc.code in ALLOWED, (name, args, exc)
                outcomes[exc.code] += 1
                continue
            outcomes[name] += 1
            done.append((name, args, who, result))
            with shared_lock:
                if name == "reserve_credits":
                    holds[user.user_id or ""].append((result["hold_id"], result["amount"]))
                elif name == "spend_credits":
                    spends.append((result["transaction_id"], user.user_id or ""))

    run_parallel(worker)
    assert outcomes["spend_credits"] > 20 and outcomes["reserve_credits"] > 10 and outcomes["retry_same_result"] > 10
    kwq8_db.freeze_time((dt.datetime(2026, 5, 12, tzinfo=dt.UTC)).isoformat())
    kwq8_db.rpc("run_credit_sweepers", {}, as_=SERVICE)
    audit_clean(kwq8_db)
    kinds = {
        r["transaction_type"] for r in kwq8_db.sql("select distinct transaction_type from public.credit_transactions")
    }
    assert kinds == {"grant", "spend", "hold", "capture", "release", "refund", "expire"}
    assert kwq8_db.scalar("select count(*) from billing.holds where status = 'active'") == 0
    audit = run_cli("ledger", "audit", "--db-url", kwq8_db.url("postgres"))
    assert audit.code == 0 and "clean" in audit.stderr, audit.stderr
    # The shipped audit fails loudly on a broken book.
    kwq8_db.sql("update public.users set credits_balance = credits_balance + 0.5 where id = %s", (users[0].user_id,))
    broken = run_cli("ledger", "audit", "--db-url", kwq8_db.url("postgres"))
    assert broken.code == 1 and "balance_vs_grants" in broken.stdout
    assert str(uuid.UUID(users[0].user_id or "")) in broken.stdout
