"""What Row Level Security costs the owner's most common read.

A scratch database of the local stack is migrated like any other, then filled with set-based SQL:
`projects` projects spread over owners (10 each), and `bookings` bookings spread at random over
the projects. The measured query is an owner listing one of their projects' latest 50 bookings,

    select ... from public.bookings where project_id = $1 order by starts_at desc limit 50

run as PostgREST runs it for that owner (a transaction with role authenticated and the owner's
JWT claims: the bookings policies apply) and as service_role (BYPASSRLS: no policy applies).
Both run on one connection, as PostgREST's pooled connections switch role request by request,
each as its own prepared statement (generic plans, as PostgREST's are), alternating run after
run and which goes first, so both see the same backend, caches and machine. Reported: p50 and
p95 of the statement's round trip for both, their ratios, and EXPLAIN (ANALYZE, BUFFERS) of the
RLS query, which should show the (project_id, starts_at desc) index.

The data is loaded by the superuser with triggers off (session_replication_role = replica):
it is generated consistent, bookings include past ones as a real history would, and the write
path's checks are not what is measured.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from kwq8.db import connect
from kwq8.stack import Stack

Echo = Callable[[str], None]

QUERY = (
    "select id, customer_name, phone, service, starts_at, status from public.bookings "
    "where project_id = %s order by starts_at desc limit 50"
)
INDEX = "bookings_project_starts"
TARGET_RATIO = 1.3
PROJECTS_PER_OWNER = 10


def _noop(_: str) -> None:
    return None


@dataclass(frozen=True)
class Timing:
    """Milliseconds of one statement's round trip (execute and fetch), over `runs` runs."""

    runs: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples_ns: list[int]) -> Timing:
        ms = sorted(s / 1e6 for s in samples_ns)
        return cls(
            runs=len(ms),
            p50_ms=percentile(ms, 50),
            p95_ms=percentile(ms, 95),
            mean_ms=sum(ms) / len(ms),
            min_ms=ms[0],
            max_ms=ms[-1],
        )


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        raise ValueError("no samples")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class RlsBenchResult:
    database: str
    projects: int
    bookings: int
    owners: int
    target_project: str
    target_bookings: int
    rows_returned: int
    load_seconds: float
    rls: Timing
    bypass: Timing
    plan: str
    bypass_plan: str
    server_version: str
    # Sanity checks: both sides return the same rows, and the owner sees nothing of a project
    # that is not theirs (RLS really applied).
    same_rows: bool = False
    foreign_rows_seen: int = -1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio_p50(self) -> float:
        return self.rls.p50_ms / self.bypass.p50_ms

    @property
    def ratio_p95(self) -> float:
        return self.rls.p95_ms / self.bypass.p95_ms

    @property
    def index_used(self) -> bool:
        return INDEX in self.plan and "Seq Scan on bookings" not in self.plan

    @property
    def target_met(self) -> bool:
        return self.ratio_p50 <= TARGET_RATIO and self.ratio_p95 <= TARGET_RATIO

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            ratio_p50=round(self.ratio_p50, 3),
            ratio_p95=round(self.ratio_p95, 3),
            index_used=self.index_used,
            target_ratio=TARGET_RATIO,
            target_met=self.target_met,
        )
        return data


# --------------------------------------------------------------------------- data

LOAD_SQL = [
    "select setseed(0.42)",
    # Owners: auth users and their public.users rows (the sign-up trigger is off while loading).
    """
    insert into auth.users (id, email, aud, role)
    select extensions.gen_random_uuid(), format('owner%%s@bench.kwq8.test', i), 'authenticated', 'authenticated'
    from generate_series(1, %(owners)s) as i
    """,
    "insert into public.users (id, email) select id, email from auth.users",
    # Projects: owner k owns projects k, k + owners, k + 2 * owners, ...
    """
    insert into public.projects (user_id, name, slug, subdomain, status, template)
    select
        o.ids[1 + (i - 1) %% %(owners)s],
        format('Project %%s', i),
        format('project-%%s', i),
        format('site-%%s', i),
        case when i %% 10 = 0 then 'draft' else 'published' end,
        'salon'
    from generate_series(1, %(projects)s) as i
    cross join (select array_agg(id order by email) as ids from auth.users) as o
    """,
    # Bookings: spread at random over every project, two years of history and plans.
    """
    insert into public.bookings (project_id, customer_name, phone, email, service, starts_at, status, notes)
    select
        p.ids[1 + floor(random() * p.n)::int],
        format('Customer %%s', i),
        format('+9655%%s', lpad((i %% 10000000)::text, 7, '0')),
        case when i %% 3 = 0 then format('c%%s@example.com', i) end,
        (array['Haircut', 'Consultation', 'Massage', 'Manicure'])[1 + i %% 4],
        timestamptz '2025-01-01 08:00+03' + random() * interval '730 days',
        (array['pending', 'confirmed', 'completed', 'cancelled'])[1 + i %% 4],
        case when i %% 5 = 0 then 'Window seat, please' end
    from generate_series(1, %(bookings)s) as i
    cross join (select array_agg(id order by id) as ids, count(*)::int as n from public.projects) as p
    """,
]


def load(conn: psycopg.Connection[Any], *, projects: int, bookings: int, owners: int) -> None:
    """Fill the migrated scratch database (as the superuser, triggers off)."""
    with conn.transaction():
        conn.execute("set local session_replication_role = replica")
        conn.execute("set local synchronous_commit = off")
        params = {"owners": owners, "projects": projects, "bookings": bookings}
        for statement in LOAD_SQL:
            conn.execute(statement, params)
    for table in ("auth.users", "public.users", "public.projects", "public.bookings"):
        conn.execute(f"vacuum (analyze) {table}")


# --------------------------------------------------------------------------- measuring


def _claims(role: str, user_id: str | None = None) -> str:
    claims: dict[str, Any] = {"role": role, "iss": "supabase-demo"}
    if user_id:
        claims.update(sub=user_id, aud="authenticated", email="", aal="aal1")
    return json.dumps(claims)


# Two texts of the same query, so each keeps its own prepared statement and plan.
RLS_QUERY = QUERY + " -- as the owner, through RLS"
BYPASS_QUERY = QUERY + " -- as service_role, bypassing RLS"


@dataclass(frozen=True)
class Identity:
    role: str
    claims: str
    query: str


class Session:
    """One PostgREST-like connection (as authenticator); each request picks its identity."""

    def __init__(self, url: str) -> None:
        self.conn = connect(url, autocommit=True)

    def run(self, who: Identity, query: str, params: tuple[Any, ...], *, prepare: bool = True) -> tuple[list[Any], int]:
        """One request: returns the rows and the nanoseconds the statement took."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
                (who.role, who.claims),
            )
            began = time.perf_counter_ns()
            cur.execute(query, params, prepare=prepare)
            rows = cur.fetchall()
            elapsed = time.perf_counter_ns() - began
        return rows, elapsed

    def explain(self, who: Identity, project_id: str) -> str:
        literal = psycopg.sql.Literal(project_id).as_string(self.conn)
        statement = "explain (analyze, buffers, costs off) " + QUERY.replace("%s", literal)
        rows, _ = self.run(who, statement, (), prepare=False)
        return "\n".join(r[0] for r in rows)

    def close(self) -> None:
        self.conn.close()


def measure(
    session: Session, rls: Identity, bypass: Identity, project_id: str, *, runs: int, warmup: int
) -> tuple[list[int], list[int]]:
    """Alternate the two identities, `warmup` unrecorded runs each first."""
    for _ in range(warmup):
        session.run(rls, rls.query, (project_id,))
        session.run(bypass, bypass.query, (project_id,))
    samples: dict[str, list[int]] = {rls.role: [], bypass.role: []}
    for i in range(runs):
        # Alternate who goes first, so neither always runs right after the other.
        for who in (rls, bypass) if i % 2 == 0 else (bypass, rls):
            _, elapsed = session.run(who, who.query, (project_id,))
            samples[who.role].append(elapsed)
    return samples[rls.role], samples[bypass.role]


# --------------------------------------------------------------------------- the run


def run(
    stack: Stack,
    *,
    projects: int = 10_000,
    bookings: int = 1_000_000,
    runs: int = 2000,
    warmup: int = 200,
    database: str = "bench_rls",
    keep: bool = False,
    echo: Echo = _noop,
) -> RlsBenchResult:
    if projects < 2 or bookings < 1 or runs < 1:
        raise ValueError("need at least 2 projects, 1 booking and 1 run")
    owners = max(2, projects // PROJECTS_PER_OWNER)
    echo(f"creating database {database} on the local stack (shim and migrations)")
    stack.drop_database(database)
    stack.create_database(database)
    try:
        stack.prepare_database(database, seed=False)
        echo(f"loading {owners:,} owners, {projects:,} projects and {bookings:,} bookings")
        began = time.monotonic()
        with connect(stack.admin_url(database), autocommit=True) as admin:
            load(admin, projects=projects, bookings=bookings, owners=owners)
            load_seconds = time.monotonic() - began
            # The target: the first owner's busiest published project; the foreign project is
            # somebody else's, to prove the owner's requests really go through the policies.
            target = admin.execute(
                """
                select p.id::text, p.user_id::text, count(b.id)::int
                from public.projects as p
                left join public.bookings as b on b.project_id = p.id
                where p.user_id = (select id from auth.users order by email limit 1) and p.status = 'published'
                group by p.id
                order by 3 desc, 1
                limit 1
                """
            ).fetchone()
            if target is None:
                raise ValueError("the first owner has no published project: load more projects")
            foreign = admin.execute(
                "select id::text from public.projects where user_id <> %s order by id limit 1", (target[1],)
            ).fetchone()
            version = admin.execute("show server_version").fetchone()
        assert foreign is not None and version is not None
        project_id, owner_id, target_bookings = target
        echo(f"loaded in {load_seconds:.1f}s; measuring {runs} runs each (after {warmup} warm-up runs)")

        session = Session(stack.url("authenticator", database))
        rls = Identity("authenticated", _claims("authenticated", owner_id), RLS_QUERY)
        bypass = Identity("service_role", _claims("service_role"), BYPASS_QUERY)
        try:
            rls_rows, _ = session.run(rls, QUERY, (project_id,), prepare=False)
            bypass_rows, _ = session.run(bypass, QUERY, (project_id,), prepare=False)
            foreign_rows, _ = session.run(rls, QUERY, (foreign[0],), prepare=False)
            rls_ns, bypass_ns = measure(session, rls, bypass, project_id, runs=runs, warmup=warmup)
            plan = session.explain(rls, project_id)
            bypass_plan = session.explain(bypass, project_id)
            generic = session.conn.execute(
                "select count(*) from pg_prepared_statements where statement like '%%RLS' and generic_plans > 0"
            ).fetchone()
        finally:
            session.close()
        return RlsBenchResult(
            database=database,
            projects=projects,
            bookings=bookings,
            owners=owners,
            target_project=project_id,
            target_bookings=target_bookings,
            rows_returned=len(rls_rows),
            load_seconds=round(load_seconds, 2),
            rls=Timing.of(rls_ns),
            bypass=Timing.of(bypass_ns),
            plan=plan,
            bypass_plan=bypass_plan,
            server_version=str(version[0]),
            same_rows=rls_rows == bypass_rows,
            foreign_rows_seen=len(foreign_rows),
            extra={"generic_plans_used": bool(generic and generic[0] == 2)},
        )
    finally:
        if keep:
            echo(f"kept database {database}")
        else:
            stack.drop_database(database)
