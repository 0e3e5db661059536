"""`kwq8 bench credits`: spend_credits throughput against a bare baseline, measured in one run.

Every call is one PostgREST-style transaction on its own client connection (16 by default):
  baseline  begin; update ... set balance = balance - 1 where id = $1 and balance >= 1 returning;
            insert one ledger row; commit
  spend     begin; role + JWT claims; select public.spend_credits(...); commit
for (a) one hot user and (b) users picked at random among 10,000. The phases alternate over
several rounds and the median throughput of each is reported, so a noisy neighbour on the
machine hits both sides alike. The brief's naive pattern (select, then update, then insert, as
separate requests) runs against a hot account too, and the credits it loses are counted.
"""

from __future__ import annotations

import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg

from kwq8.db import connect
from kwq8.postgrest import Api, ApiError, Identity

BASELINE_DDL = """
create schema if not exists bench;
drop table if exists bench.ledger, bench.accounts;
create table bench.accounts (id integer primary key, balance numeric(12, 2) not null check (balance >= 0));
create table bench.ledger (
    id bigint generated always as identity primary key,
    account_id integer not null references bench.accounts (id),
    amount numeric(12, 2) not null,
    balance_after numeric(12, 2) not null,
    created_at timestamptz not null default now()
);
create index on bench.ledger (account_id);
"""


@dataclass
class Phase:
    name: str
    calls_per_s: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.calls_per_s) if self.calls_per_s else 0.0


@dataclass
class CreditsBenchResult:
    clients: int
    users: int
    seconds: float
    rounds: int
    phases: dict[str, Phase]
    naive_attempts: int = 0
    naive_successes: int = 0
    naive_credits_lost: Decimal = Decimal(0)
    audit_violations: int = 0

    def ratio(self, name: str, baseline: str) -> float:
        base = self.phases[baseline].median
        return self.phases[name].median / base if base else 0.0

    def table(self) -> str:
        rows = [
            "| workload | baseline calls/s | spend_credits calls/s | ratio | target |",
            "|---|---|---|---|---|",
            f"| one hot user | {self.phases['baseline_hot'].median:,.0f} | {self.phases['spend_hot'].median:,.0f} | "
            f"{self.ratio('spend_hot', 'baseline_hot'):.2f}x | >= 0.8x |",
            f"| {self.users:,} users at random | {self.phases['baseline_spread'].median:,.0f} | "
            f"{self.phases['spend_spread'].median:,.0f} | {self.ratio('spend_spread', 'baseline_spread'):.2f}x "
            "| >= 0.6x |",
        ]
        naive = (
            f"naive select-then-update pattern, hot account: {self.naive_successes} of {self.naive_attempts} "
            f"deductions reported success; credits lost: {self.naive_credits_lost}"
        )
        return "\n".join(rows) + "\n\n" + naive

    def as_dict(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "users": self.users,
            "seconds_per_phase": self.seconds,
            "rounds": self.rounds,
            "phases": {
                k: {
                    "median_calls_per_s": round(v.median, 1),
                    "runs": [round(x, 1) for x in v.calls_per_s],
                    "errors": v.errors,
                }
                for k, v in self.phases.items()
            },
            "ratio_hot": round(self.ratio("spend_hot", "baseline_hot"), 3),
            "ratio_spread": round(self.ratio("spend_spread", "baseline_spread"), 3),
            "naive": {
                "attempts": self.naive_attempts,
                "successes": self.naive_successes,
                "credits_lost": str(self.naive_credits_lost),
            },
            "audit_violations": self.audit_violations,
        }


def prepare(admin_url: str, users: int) -> list[str]:
    """Users with plenty of credits, and the baseline's bare accounts table."""
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(BASELINE_DDL)
        conn.execute("insert into bench.accounts select g, 1000000 from generate_series(1, %s) g", (users,))
        conn.execute(
            "insert into auth.users (id, email, aud, role) select extensions.gen_random_uuid(), "
            "'bench' || g || '@example.test', 'authenticated', 'authenticated' from generate_series(1, %s) g",
            (users,),
        )
        ids = [str(r[0]) for r in conn.execute("select id from public.users order by created_at, id").fetchall()]
        conn.execute(
            "select billing.add_grant(u.id, 'purchase', 1000000, null, null, 'bench credits', null, null) "
            "from public.users u"
        )
        conn.execute("vacuum analyze")
    return ids


def _run_phase(
    clients: int, seconds: float, make_call: Callable[[int], Callable[[random.Random], None]]
) -> tuple[float, int]:
    counts = [0] * clients
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def worker(index: int) -> None:
        call = make_call(index)
        rng = random.Random(index)
        barrier.wait()
        while time.monotonic() < deadline[0]:
            try:
                call(rng)
                counts[index] += 1
            except (ApiError, psycopg.Error):
                errors[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    deadline[0] = time.monotonic() + seconds
    started = time.monotonic()
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return sum(counts) / elapsed, sum(errors)


def run(
    db_url: str,
    authenticator_url: str,
    *,
    clients: int = 16,
    users: int = 10_000,
    seconds: float = 5.0,
    rounds: int = 3,
    naive_attempts_per_client: int = 50,
    echo: Callable[[str], None] = lambda _: None,
) -> CreditsBenchResult:
    echo(f"preparing {users:,} users with credits")
    ids = prepare(db_url, users)
    hot_user = ids[0]
    baseline_conns = [connect(db_url, autocommit=True) for _ in range(clients)]
    apis = [Api(connect(authenticator_url, autocommit=True)) for _ in range(clients)]
    identities = {uid: Identity.user(uid) for uid in ids}

    def baseline(pick: Callable[[random.Random], int]) -> Callable[[int], Callable[[random.Random], None]]:
        def make(index: int) -> Callable[[random.Random], None]:
            conn = baseline_conns[index]

            def call(rng: random.Random) -> None:
                account = pick(rng)
                with conn.transaction():
                    row = conn.execute(
                        "update bench.accounts set balance = balance - 1 where id = %s and balance >= 1 "
                        "returning balance",
                        (account,),
                    ).fetchone()
                    assert row is not None
                    conn.execute(
                        "insert into bench.ledger (account_id, amount, balance_after) values (%s, -1, %s)",
                        (account, row[0]),
                    )

            return call

        return make

    def spend(pick: Callable[[random.Random], str]) -> Callable[[int], Callable[[random.Random], None]]:
        def make(index: int) -> Callable[[random.Random], None]:
            api = apis[index]

            def call(rng: random.Random) -> None:
                api.rpc(
                    "spend_credits",
                    {"action": "chat_message", "idempotency_key": str(uuid.uuid4())},
                    as_=identities[pick(rng)],
                )

            return call

        return make

    plans = {
        "baseline_hot": baseline(lambda rng: 1),
        "spend_hot": spend(lambda rng: hot_user),
        "baseline_spread": baseline(lambda rng: rng.randint(1, users)),
        "spend_spread": spend(lambda rng: rng.choice(ids)),
    }
    phases = {name: Phase(name) for name in plans}
    for round_no in range(rounds):
        for name, make in plans.items():
            rate, errors = _run_phase(clients, seconds, make)
            phases[name].calls_per_s.append(rate)
            phases[name].errors += errors
            echo(f"round {round_no + 1}/{rounds} {name}: {rate:,.0f} calls/s")
    result = CreditsBenchResult(clients, users, seconds, rounds, phases)
    _naive(db_url, baseline_conns, naive_attempts_per_client, result)
    with connect(db_url) as conn:
        row = conn.execute("select count(*) from billing.audit_ledger()").fetchone()
        result.audit_violations = int(row[0]) if row else -1
    for conn in baseline_conns:
        conn.close()
    for api in apis:
        api.conn.close()
    return result


def _naive(db_url: str, conns: list[psycopg.Connection[Any]], attempts: int, result: CreditsBenchResult) -> None:
    """The brief's deductCredits: read, decide in the client, write the computed balance, insert."""
    start_balance = Decimal(1000)
    with connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into bench.accounts values (0, %s) on conflict (id) do update set balance = %s",
            (start_balance, start_balance),
        )
    successes = [0] * len(conns)
    barrier = threading.Barrier(len(conns))

    def worker(index: int) -> None:
        conn = conns[index]
        barrier.wait()
        for _ in range(attempts):
            row = conn.execute("select balance from bench.accounts where id = 0").fetchone()
            assert row is not None
            if row[0] < 1:
                continue
            new_balance = row[0] - 1
            conn.execute("update bench.accounts set balance = %s where id = 0", (new_balance,))
            conn.execute(
                "insert into bench.ledger (account_id, amount, balance_after) values (0, -1, %s)", (new_balance,)
            )
            successes[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(conns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with connect(db_url) as conn:
        row = conn.execute("select balance from bench.accounts where id = 0").fetchone()
    final = Decimal(row[0]) if row else start_balance
    result.naive_attempts = attempts * len(conns)
    result.naive_successes = sum(successes)
    result.naive_credits_lost = Decimal(result.naive_successes) - (start_balance - final)


def run_on_stack(stack: Any, *, keep: bool = False, **kwargs: Any) -> CreditsBenchResult:
    """Run in a scratch database of a running local stack (migrated like the main one), then drop it."""
    name = "bench_credits"
    stack.drop_database(name)
    stack.create_database(name)
    try:
        stack.prepare_database(name, seed=False)
        return run(stack.url("postgres", name), stack.url("authenticator", name), **kwargs)
    finally:
        if not keep:
            stack.drop_database(name)
