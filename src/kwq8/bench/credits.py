"""`kwq8 bench credits`: spend_credits throughput against a bare baseline, measured in one run.

Every call is one PostgREST-style transaction on its own client connection (16 client processes
by default):
  baseline  begin; update ... set balance = balance - 1 where id = $1 and balance >= 1 returning;
            insert one ledger row; commit
  spend     begin; role + JWT claims; pre-request; select public.spend_credits(...); commit
for (a) one hot user and (b) users picked at random among 10,000. Two reference calls show
where the gap between them comes from, each one PostgREST-style transaction calling a function
made for the benchmark in its scratch database:
  baseline as RPC   the baseline's own update and insert, in a PL/pgSQL function
  required writes   the three writes the credit model needs and nothing else: debit the user's
                    balance, debit the first grant in burn-down order, insert the ledger entry
                    with its idempotency key (no validation, price lookup, upkeep or replay)
The phases alternate over several rounds and the median throughput of each is reported, so a
noisy neighbour on the machine hits every phase alike. The naive client-side pattern (select,
then update, then insert, as separate requests) runs against a hot account too, and the credits it
loses are counted.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg

from kwq8.db import connect
from kwq8.postgrest import Api, ApiError, Identity

# spend_unlimited_* is spend_credits without the Data API limiter (the pre-request function the
# migrations configure): the limiter's cost is spend_* against it, measured in the same run.
# spend_empty_pre_* calls the cheapest function there is (a built-in) as the pre-request instead:
# PostgREST's own price for any pre-request (one more statement per request), so spend_* against
# it is what the limiter's counting itself costs.
PHASES = (
    "baseline_hot",
    "spend_hot",
    "spend_unlimited_hot",
    "spend_empty_pre_hot",
    "baseline_spread",
    "spend_spread",
    "spend_unlimited_spread",
    "spend_empty_pre_spread",
)
EMPTY_PRE_REQUEST = "pg_catalog.pg_backend_pid"
# spend_credits throughput as a fraction of the bare baseline's, per workload (docs/benchmarks.md, "Credits").
TARGETS = {"hot": 0.8, "spread": 0.6}
REFERENCE_PHASES = ("baseline_rpc_hot", "required_writes_hot", "baseline_rpc_spread", "required_writes_spread")

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

# The reference functions, layered as spend_credits is: a SECURITY INVOKER function in the
# exposed schema calls a SECURITY DEFINER one in a private schema.
REFERENCE_DDL = """
grant usage on schema bench to authenticated;

create or replace function bench.baseline_writes(p_account integer) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
    v_balance numeric;
begin
    update bench.accounts set balance = balance - 1 where id = p_account and balance >= 1
    returning balance into v_balance;
    insert into bench.ledger (account_id, amount, balance_after) values (p_account, -1, v_balance);
    return jsonb_build_object('balance', v_balance);
end
$$;

create or replace function bench.required_writes(p_key text) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
    v_user uuid := auth.uid();
    v_now timestamptz := now();
    v_balance numeric;
    v_grant uuid;
    v_tx uuid := extensions.gen_random_uuid();
begin
    update public.users set credits_balance = credits_balance - 1 where id = v_user and credits_balance >= 1
    returning credits_balance into v_balance;
    update billing.grants as g set remaining = g.remaining - 1
    where g.id = (
        select f.id from billing.grants as f
        where f.user_id = v_user and f.remaining > 0
            and (f.expires_at is null or f.expires_at > v_now)
        order by f.source = 'daily_bonus' desc, f.expires_at asc nulls last,
            f.source in ('monthly', 'purchase') asc, f.effective_at, f.created_at, f.id
        limit 1
    ) and g.remaining >= 1
    returning g.id into v_grant;
    insert into public.credit_transactions (
        id, user_id, transaction_type, credits_amount, balance_after, action, idempotency_key,
        request_fingerprint, grant_id
    ) values (v_tx, v_user, 'spend', -1, v_balance, 'chat_message', p_key, 'bench', v_grant);
    return jsonb_build_object('transaction_id', v_tx, 'charged', 1, 'balance', v_balance);
end
$$;

create or replace function public.bench_baseline_writes(account integer) returns jsonb
language plpgsql volatile set search_path = '' as $$
begin
    return bench.baseline_writes(account);
end
$$;

create or replace function public.bench_required_writes(idempotency_key text) returns jsonb
language plpgsql volatile set search_path = '' as $$
begin
    return bench.required_writes(idempotency_key);
end
$$;

revoke all on function bench.baseline_writes(integer), bench.required_writes(text),
    public.bench_baseline_writes(integer), public.bench_required_writes(text) from public;
grant execute on function bench.baseline_writes(integer), bench.required_writes(text),
    public.bench_baseline_writes(integer), public.bench_required_writes(text) to authenticated;
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

    def missed_targets(self) -> list[str]:
        """Each workload whose spend_credits/baseline ratio of medians is under its target."""
        missed = []
        for workload, target in TARGETS.items():
            got = self.ratio(f"spend_{workload}", f"baseline_{workload}")
            if got < target:
                missed.append(f"{workload}: spend_credits/baseline {got:.2f}x < {target}x")
        return missed

    def table(self) -> str:
        rows = [
            "| workload | baseline calls/s | spend_credits calls/s | ratio | target |",
            "|---|---|---|---|---|",
            f"| one hot user | {self.phases['baseline_hot'].median:,.0f} | {self.phases['spend_hot'].median:,.0f} | "
            f"{self.ratio('spend_hot', 'baseline_hot'):.2f}x | >= {TARGETS['hot']}x |",
            f"| {self.users:,} users at random | {self.phases['baseline_spread'].median:,.0f} | "
            f"{self.phases['spend_spread'].median:,.0f} | {self.ratio('spend_spread', 'baseline_spread'):.2f}x "
            f"| >= {TARGETS['spread']}x |",
        ]
        if "required_writes_hot" in self.phases:
            rows += [
                "",
                "| workload | baseline | baseline as RPC | required writes as RPC | spend_credits |",
                "|---|---|---|---|---|",
            ]
            for workload, label in (("hot", "one hot user"), ("spread", f"{self.users:,} users at random")):
                cells = [
                    f"{self.phases[f'{kind}_{workload}'].median:,.0f} "
                    f"({self.ratio(f'{kind}_{workload}', f'baseline_{workload}'):.2f}x)"
                    for kind in ("baseline", "baseline_rpc", "required_writes", "spend")
                ]
                rows.append(f"| {label} | " + " | ".join(cells) + " |")
        rows += [
            "",
            "| Data API limiter | without calls/s | empty pre-request calls/s | with calls/s "
            "| with/without | with/empty pre-request | target |",
            "|---|---|---|---|---|---|---|",
        ]
        for workload, label in (("hot", "one hot user"), ("spread", f"{self.users:,} users at random")):
            rows.append(
                f"| {label} | {self.phases[f'spend_unlimited_{workload}'].median:,.0f} | "
                f"{self.phases[f'spend_empty_pre_{workload}'].median:,.0f} | "
                f"{self.phases[f'spend_{workload}'].median:,.0f} | "
                f"{self.ratio(f'spend_{workload}', f'spend_unlimited_{workload}'):.3f}x | "
                f"{self.ratio(f'spend_{workload}', f'spend_empty_pre_{workload}'):.3f}x | >= 0.95x |"
            )
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
            "limiter_ratio_hot": round(self.ratio("spend_hot", "spend_unlimited_hot"), 3),
            "limiter_ratio_spread": round(self.ratio("spend_spread", "spend_unlimited_spread"), 3),
            "limiter_counting_ratio_hot": round(self.ratio("spend_hot", "spend_empty_pre_hot"), 3),
            "limiter_counting_ratio_spread": round(self.ratio("spend_spread", "spend_empty_pre_spread"), 3),
            "reference_ratios": {
                name: round(self.ratio(name, "baseline_" + name.rpartition("_")[2]), 3)
                for name in REFERENCE_PHASES
                if name in self.phases
            },
            "naive": {
                "attempts": self.naive_attempts,
                "successes": self.naive_successes,
                "credits_lost": str(self.naive_credits_lost),
            },
            "audit_violations": self.audit_violations,
        }


def prepare(admin_url: str, users: int) -> list[str]:
    """Users with plenty of credits, the baseline's bare accounts table and the reference functions."""
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(BASELINE_DDL)
        conn.execute(REFERENCE_DDL)
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
        # Accounts in use: each has had its first request's upkeep (billing.lock_user), so the
        # spend fast path applies, as it does for every request of a user until the next expiry
        # or Kuwait midnight.
        conn.execute("select count(billing.lock_user(u.id, billing.clock())) from public.users u")
        # The limiter counts every spend but never refuses one: its cost is what is measured.
        conn.execute("update ratelimit.settings set api_user_writes_per_window = 2000000000")
        conn.execute("vacuum analyze")
    return ids


# Each client is a process of its own (one connection each), as independent browsers and
# PostgREST workers are: Python threads would share one interpreter lock and stretch the time a
# row lock is held while a thread waits for its turn to send COMMIT.
_worker: dict[str, Any] = {}


def _init_worker(db_url: str, authenticator_url: str, ids: list[str], users: int) -> None:
    _worker["baseline"] = connect(db_url, autocommit=True)
    _worker["api"] = Api(connect(authenticator_url, autocommit=True))
    _worker["api_unlimited"] = Api(connect(authenticator_url, autocommit=True), pre_request=False)
    _worker["api_empty_pre"] = Api(connect(authenticator_url, autocommit=True), pre_request=EMPTY_PRE_REQUEST)
    _worker["ids"] = ids
    _worker["users"] = users
    _worker["identities"] = {uid: Identity.user(uid) for uid in ids}


def _baseline_call(account: int) -> None:
    conn = _worker["baseline"]
    with conn.transaction():
        row = conn.execute(
            "update bench.accounts set balance = balance - 1 where id = %s and balance >= 1 returning balance",
            (account,),
        ).fetchone()
        assert row is not None
        conn.execute(
            "insert into bench.ledger (account_id, amount, balance_after) values (%s, -1, %s)", (account, row[0])
        )


def _spend_call(user_id: str, api: str = "api") -> None:
    _worker[api].rpc(
        "spend_credits",
        {"action": "chat_message", "idempotency_key": str(uuid.uuid4())},
        as_=_worker["identities"][user_id],
    )


def _baseline_rpc_call(account: int, user_id: str) -> None:
    _worker["api"].rpc("bench_baseline_writes", {"account": account}, as_=_worker["identities"][user_id])


def _required_writes_call(user_id: str) -> None:
    _worker["api"].rpc(
        "bench_required_writes", {"idempotency_key": str(uuid.uuid4())}, as_=_worker["identities"][user_id]
    )


def _call(phase: str, rng: random.Random) -> None:
    """One call of a phase: `<kind>_hot` always uses the first user (account 1), `<kind>_spread`
    a random one."""
    ids, users = _worker["ids"], _worker["users"]
    kind, _, workload = phase.rpartition("_")
    index = 0 if workload == "hot" else rng.randrange(users)
    if kind == "baseline":
        _baseline_call(index + 1)
    elif kind == "spend":
        _spend_call(ids[index])
    elif kind == "spend_unlimited":
        _spend_call(ids[index], "api_unlimited")
    elif kind == "spend_empty_pre":
        _spend_call(ids[index], "api_empty_pre")
    elif kind == "baseline_rpc":
        _baseline_rpc_call(index + 1, ids[index])
    elif kind == "required_writes":
        _required_writes_call(ids[index])
    else:
        raise ValueError(f"unknown phase {phase}")


def _phase_task(args: tuple[str, float, float, int]) -> tuple[int, int]:
    """Run one phase until the shared deadline; returns (calls, errors)."""
    phase, start_at, seconds, seed = args
    rng = random.Random(seed)
    calls = errors = 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline:
        try:
            _call(phase, rng)
            calls += 1
        except (ApiError, psycopg.Error):
            errors += 1
    return calls, errors


def _naive_task(attempts: int) -> int:
    """A client-side deduction: read, decide in the client, write the computed balance, insert."""
    conn = _worker["baseline"]
    successes = 0
    for _ in range(attempts):
        row = conn.execute("select balance from bench.accounts where id = 0").fetchone()
        assert row is not None
        if row[0] < 1:
            continue
        new_balance = row[0] - 1
        conn.execute("update bench.accounts set balance = %s where id = 0", (new_balance,))
        conn.execute("insert into bench.ledger (account_id, amount, balance_after) values (0, -1, %s)", (new_balance,))
        successes += 1
    return successes


def run(
    db_url: str,
    authenticator_url: str,
    *,
    clients: int = 16,
    users: int = 10_000,
    seconds: float = 5.0,
    rounds: int = 3,
    naive_attempts_per_client: int = 50,
    references: bool = True,
    echo: Callable[[str], None] = lambda _: None,
) -> CreditsBenchResult:
    echo(f"preparing {users:,} users with credits")
    ids = prepare(db_url, users)
    phases = {name: Phase(name) for name in PHASES + (REFERENCE_PHASES if references else ())}
    result = CreditsBenchResult(clients, users, seconds, rounds, phases)
    context = multiprocessing.get_context("fork")
    with context.Pool(clients, initializer=_init_worker, initargs=(db_url, authenticator_url, ids, users)) as pool:
        for round_no in range(rounds):
            for name in phases:
                start_at = time.time() + 0.2  # every client starts together
                outcomes = pool.map(
                    _phase_task, [(name, start_at, seconds, round_no * 1000 + i) for i in range(clients)]
                )
                rate = sum(c for c, _ in outcomes) / seconds
                phases[name].calls_per_s.append(rate)
                phases[name].errors += sum(e for _, e in outcomes)
                echo(f"round {round_no + 1}/{rounds} {name}: {rate:,.0f} calls/s")
        start_balance = Decimal(1000)
        with connect(db_url, autocommit=True) as conn:
            conn.execute(
                "insert into bench.accounts values (0, %s) on conflict (id) do update set balance = %s",
                (start_balance, start_balance),
            )
        successes = pool.map(_naive_task, [naive_attempts_per_client] * clients)
    with connect(db_url) as conn:
        row = conn.execute("select balance from bench.accounts where id = 0").fetchone()
        final = Decimal(row[0]) if row else start_balance
        audit = conn.execute("select count(*) from billing.audit_ledger()").fetchone()
    result.naive_attempts = naive_attempts_per_client * clients
    result.naive_successes = sum(successes)
    result.naive_credits_lost = Decimal(result.naive_successes) - (start_balance - final)
    result.audit_violations = int(audit[0]) if audit else -1
    return result


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
