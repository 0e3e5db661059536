"""Attack tests of the Data API's abuse resistance, through the PostgREST-envelope harness on a
real database with the production limits: floods of writes, of failing calls and of anonymous
submissions, forged forwarded-for addresses, and the owner's own writes. Each flood prints what
was sent, accepted and refused (`pytest -s` shows it).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kwq8.postgrest import Api, ApiError, Identity
from kwq8.testing.database import TestDatabase
from kwq8.testing.plugin import production_api_limits

from ..tenancy.test_tenancy_matrix import add_project

ANON = Identity.anon()
SERVICE = Identity.service_role()
# The migrations' defaults (sql/0004_payments.sql, sql/0011_abuse_resistance.sql), written here
# independently: the tests fail if a default moves without this file.
USER_WRITES, IP_WRITES, WINDOW = 120, 60, 60
BOOKINGS_PER_HOUR, MESSAGES_PER_HOUR, PER_VISITOR = 30, 30, 5

BOOKING = (
    "insert into public.bookings (project_id, customer_name, phone, email, service, starts_at) "
    "values (%s, %s, %s, %s, 'استشارة', %s)"
)
MESSAGE = "insert into public.contact_messages (project_id, name, email, message) values (%s, 'زائر', %s, %s)"


@pytest.fixture
def db(kwq8_db: TestDatabase) -> TestDatabase:
    production_api_limits(kwq8_db.url())
    # One window for the whole flood: the limiter's windows follow billing.clock().
    kwq8_db.freeze_time("2026-05-10T09:00:00+00:00")
    return kwq8_db


def flood(label: str, send: Callable[[int], Any], requests: int) -> Counter[str]:
    """Send `requests` requests; count the outcomes by error code ('ok' when accepted)."""
    outcomes: Counter[str] = Counter()
    for i in range(requests):
        try:
            send(i)
            outcomes["ok"] += 1
        except ApiError as error:
            outcomes[f"{error.status} {error.code}"] += 1
    refused = requests - outcomes["ok"]
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
    print(f"\n[{label}] sent {requests}, accepted {outcomes['ok']}, refused {refused} ({detail})")
    return outcomes


def slot(hours: float) -> datetime:
    return datetime(2026, 5, 11, 9, tzinfo=UTC) + timedelta(hours=hours)


def visitor(address: str) -> dict[str, str]:
    """Headers of a request that came through Supabase's gateway from `address`."""
    return {"X-Forwarded-For": address}


def insert(api: Api, who: Identity, statement: str, params: Any, headers: dict[str, str] | None = None) -> None:
    with api.request(who, method="POST", path="/bookings", headers=headers) as cur:
        cur.execute(statement, params)


# ---------------------------------------------------------------------------------- on by default


def test_a_migrated_database_runs_the_limiter_before_every_request(db: TestDatabase) -> None:
    setting = db.scalar(
        "select c from pg_db_role_setting s cross join unnest(s.setconfig) c "
        "where s.setrole = 'authenticator'::regrole "
        "and s.setdatabase = (select oid from pg_database where datname = current_database()) "
        "and c like 'pgrst.db_pre_request=%%'"
    )
    assert setting == "pgrst.db_pre_request=ratelimit.check_request"
    assert db.api()._pre_request_fn() == "ratelimit.check_request"


# ---------------------------------------------------------------------------------- failed requests count


def test_a_user_hammering_spend_credits_with_bad_arguments_is_limited(db: TestDatabase) -> None:
    user = db.create_user()
    api = db.api()
    hostile = [
        {"action": "no_such_action", "idempotency_key": "k1"},
        {"action": "chat_message", "idempotency_key": ""},
        {"action": "x" * 10_000, "idempotency_key": str(uuid.uuid4())},
        {"action": None, "idempotency_key": None},
    ]
    outcomes = flood(
        "spend_credits with bad arguments",
        lambda i: api.rpc("spend_credits", hostile[i % len(hostile)], as_=user),
        USER_WRITES + 30,
    )
    assert outcomes["ok"] == 0
    assert outcomes["429 RATE_001"] == 30
    # Every refusal before the limit was a documented validation error, not a database error.
    assert all(k.split()[1].startswith("CREDIT_") or k == "429 RATE_001" for k in outcomes)
    # Once limited, a good call is refused too until the window ends.
    with pytest.raises(ApiError) as info:
        api.rpc("spend_credits", {"action": "chat_message", "idempotency_key": str(uuid.uuid4())}, as_=user)
    assert (info.value.status, info.value.code, info.value.headers) == (429, "RATE_001", {"Retry-After": "60"})
    db.freeze_time("2026-05-10T09:01:00+00:00")
    db.sql("select billing.add_grant(%s, 'purchase', 10, null, null, 'test', null, null)", (user.user_id,))
    assert api.rpc("spend_credits", {"action": "chat_message", "idempotency_key": str(uuid.uuid4())}, as_=user)


def test_a_flood_of_failing_anonymous_rpc_calls_is_limited(db: TestDatabase) -> None:
    api = db.api()
    # Anonymous callers may not spend: every call fails, and still counts.
    outcomes = flood(
        "failing anonymous RPC calls from one address",
        lambda i: api.rpc(
            "spend_credits",
            {"action": "chat_message", "idempotency_key": f"k{i}"},
            as_=ANON,
            headers=visitor("198.51.100.20"),
        ),
        IP_WRITES + 40,
    )
    assert outcomes["ok"] == 0 and outcomes["429 RATE_001"] == 40
    assert outcomes["401 42501"] == IP_WRITES
    # Another address is not affected.
    with pytest.raises(ApiError) as info:
        api.rpc(
            "spend_credits",
            {"action": "chat_message", "idempotency_key": "x"},
            as_=ANON,
            headers=visitor("198.51.100.21"),
        )
    assert info.value.code == "42501"


def test_rolled_back_requests_keep_their_hits(db: TestDatabase) -> None:
    user = db.create_user()
    api = db.api()

    def failing_write(_: int) -> None:
        with api.request(user, method="POST") as cur:
            cur.execute("select 1 / 0")

    outcomes = flood("requests failing after the limiter counted them", failing_write, USER_WRITES + 5)
    assert outcomes["400 22012"] == USER_WRITES and outcomes["429 RATE_001"] == 5
    # Reads are not limited, nor is service_role.
    with api.request(user, method="GET") as cur:
        cur.execute("select 1")
    with api.request(SERVICE, method="POST") as cur:
        cur.execute("select 1")


def test_a_named_pre_request_replaces_the_limiter_for_benchmarks(db: TestDatabase) -> None:
    """The credits benchmark prices PostgREST's pre-request statement alone with a built-in in the
    limiter's place: such a caller runs that function, and the limiter never counts its writes."""
    user = db.create_user()
    conn = db.connect("authenticator", autocommit=True)
    empty = Api(conn, schemas=db.schemas, pre_request="pg_catalog.pg_backend_pid")
    empty.settings.update(db.api().settings)
    assert empty._pre_request_fn() == "pg_catalog.pg_backend_pid"

    def write(api: Api) -> Callable[[int], Any]:
        def send(_: int) -> None:
            with api.request(user, method="POST") as cur:
                cur.execute("select 1")

        return send

    assert flood("writes with an empty pre-request", write(empty), USER_WRITES + 5) == Counter(ok=USER_WRITES + 5)
    # The user's whole allowance is still there for writes through the limiter.
    outcomes = flood("then writes through the limiter", write(db.api()), USER_WRITES + 5)
    assert outcomes == Counter({"ok": USER_WRITES, "429 RATE_001": 5})


# ---------------------------------------------------------------------------------- forged addresses


def test_rotating_a_forged_forwarded_for_prefix_does_not_escape_the_limit(db: TestDatabase) -> None:
    api = db.api()
    real = "203.0.113.9"  # what Supabase's gateway appends: the address it saw

    def forged(i: int) -> None:
        headers = visitor(f"10.{i // 250}.{i % 250}.1, 192.0.2.{i % 250}, {real}")
        with api.request(ANON, method="POST", headers=headers) as cur:
            cur.execute("select 1")

    outcomes = flood("rotating forged X-Forwarded-For prefixes", forged, IP_WRITES + 50)
    assert outcomes["ok"] == IP_WRITES and outcomes["429 RATE_001"] == 50


def test_the_trusted_proxy_hops_and_header_choose_the_address(db: TestDatabase) -> None:
    api = db.api()

    def address(headers: dict[str, str]) -> str | None:
        with api.request(ANON, method="POST", headers=headers) as cur:
            cur.execute("select ratelimit.client_address()")
            row = cur.fetchone()
        return row[0] if row else None

    db.sql("grant execute on function ratelimit.client_address() to anon")
    assert address(visitor("1.2.3.4, 5.6.7.8")) == "5.6.7.8"
    assert address(visitor(" 9.9.9.9 ")) == "9.9.9.9"
    assert address(visitor("2001:db8:1:2:3:4:5:6")) == "2001:db8:1:2::/64"
    assert address(visitor("1.2.3.4, not-an-address")) is None
    assert address({}) is None
    db.sql("update ratelimit.settings set api_trusted_proxy_hops = 2")
    assert address(visitor("1.2.3.4, 5.6.7.8, 10.0.0.1")) == "5.6.7.8"
    assert address(visitor("5.6.7.8")) == "5.6.7.8"
    db.sql("update ratelimit.settings set api_client_ip_header = 'cf-connecting-ip'")
    assert address({"CF-Connecting-IP": "7.7.7.7", "X-Forwarded-For": "1.1.1.1"}) == "7.7.7.7"


# ---------------------------------------------------------------------------------- anonymous submissions


def test_an_anonymous_booking_flood_into_one_project_is_capped(db: TestDatabase) -> None:
    owner = db.create_user()
    project = add_project(db, owner)
    other = add_project(db, db.create_user())
    api = db.api()

    def book(i: int) -> None:
        # Distinct addresses, phones and slots: only the project's cap applies.
        insert(
            api,
            ANON,
            BOOKING,
            (project, f"زائر {i}", f"+9655{i:07d}", None, slot(i)),
            visitor(f"198.18.{i // 200}.{i % 200 + 1}"),
        )

    outcomes = flood("anonymous bookings into one project", book, BOOKINGS_PER_HOUR + 20)
    assert outcomes["ok"] == BOOKINGS_PER_HOUR and outcomes["429 RATE_002"] == 20
    with pytest.raises(ApiError) as info:
        book(999)
    assert info.value.message == "استقبل هذا الموقع طلبات كثيرة، حاول لاحقاً"
    # Another project still takes bookings; the owner's own are not capped nor counted.
    insert(api, ANON, BOOKING, (other, "زائر", "+96555000001", None, slot(1)), visitor("198.18.9.9"))
    for i in range(3):
        insert(api, owner, BOOKING, (project, "المالك", "+96555000002", None, slot(100 + i)))
    stored = db.scalar("select count(*) from public.bookings where project_id = %s", (project,))
    assert stored == BOOKINGS_PER_HOUR + 3


def test_one_visitor_address_gets_its_share_and_duplicates_are_refused(db: TestDatabase) -> None:
    project = add_project(db, db.create_user())
    api = db.api()
    outcomes = flood(
        "contact messages from one address",
        lambda i: insert(api, ANON, MESSAGE, (project, f"v{i}@example.com", f"رسالة {i}"), visitor("192.0.2.50")),
        PER_VISITOR + 5,
    )
    assert outcomes["ok"] == PER_VISITOR and outcomes["429 RATE_003"] == 5
    # The same message again from another address (a double click through another route).
    with pytest.raises(ApiError) as info:
        insert(api, ANON, MESSAGE, (project, "v0@example.com", "رسالة 0"), visitor("192.0.2.51"))
    assert (info.value.status, info.value.code) == (409, "PROJ_006")
    # The same booking twice: refused as a duplicate, with the phone as typed either way.
    insert(api, ANON, BOOKING, (project, "نورة", "55123456", None, slot(3)), visitor("192.0.2.60"))
    with pytest.raises(ApiError) as info:
        insert(api, ANON, BOOKING, (project, "نورة", "+965 5512 3456", None, slot(3)), visitor("192.0.2.61"))
    assert (info.value.status, info.value.code) == (409, "PROJ_006")
    insert(api, ANON, BOOKING, (project, "نورة", "55123456", None, slot(4)), visitor("192.0.2.60"))
    # Addresses are stored only as keys.
    keys = db.sql("select visitor_key from public.bookings where project_id = %s", (project,))
    assert all(len(k["visitor_key"]) == 32 and "192" not in k["visitor_key"] for k in keys)


def test_owners_adjust_their_caps_within_the_platform_maximum(db: TestDatabase) -> None:
    owner = db.create_user()
    project = add_project(db, owner)
    api = db.api()
    with api.request(owner, method="PATCH") as cur:
        cur.execute("update public.projects set anon_bookings_per_hour = 2 where id = %s", (project,))
    outcomes = flood(
        "bookings under an owner's cap of 2",
        lambda i: insert(
            api, ANON, BOOKING, (project, "زائر", f"+9655{i:07d}", None, slot(i)), visitor(f"192.0.2.{i}")
        ),
        4,
    )
    assert outcomes == Counter({"ok": 2, "429 RATE_002": 2})
    with pytest.raises(ApiError) as info, api.request(owner, method="PATCH") as cur:
        cur.execute("update public.projects set anon_messages_per_hour = 501 where id = %s", (project,))
    assert (info.value.status, info.value.code) == (400, "VAL_001")
    # Zero closes the form to visitors.
    with api.request(owner, method="PATCH") as cur:
        cur.execute("update public.projects set anon_messages_per_hour = 0 where id = %s", (project,))
    with pytest.raises(ApiError) as info:
        insert(api, ANON, MESSAGE, (project, "a@example.com", "hi"), visitor("192.0.2.99"))
    assert info.value.code == "RATE_002"


def test_concurrent_visitors_cannot_overshoot_a_projects_cap(db: TestDatabase) -> None:
    import threading

    project = add_project(db, db.create_user())
    db.sql("update public.projects set anon_bookings_per_hour = 10 where id = %s", (project,))
    apis = [db.api() for _ in range(8)]
    results: list[str] = []

    def worker(n: int) -> None:
        for i in range(5):
            try:
                insert(
                    apis[n],
                    ANON,
                    BOOKING,
                    (project, "زائر", f"+9656{n:03d}{i:04d}", None, slot(n * 10 + i)),
                    visitor(f"198.19.{n}.{i}"),
                )
                results.append("ok")
            except ApiError as error:
                results.append(error.code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"\n[concurrent visitors] sent {len(results)}, accepted {results.count('ok')}")
    assert results.count("ok") == 10 and results.count("RATE_002") == 30


def test_db_status_and_audit_report_a_missing_or_redirected_limiter(kwq8_db: TestDatabase) -> None:
    from ..conftest import run_cli

    url = kwq8_db.url("postgres")
    status = run_cli("db", "status", "--db-url", url, "--json")
    assert status.code == 0, status.stderr
    assert json.loads(status.stdout)["data_api_limiter"] == {"ok": True, "errors": []}
    admin = kwq8_db.connect("supabase_admin")
    admin.execute(f"alter role authenticator in database {kwq8_db.name} reset pgrst.db_pre_request")
    status = run_cli("db", "status", "--db-url", url)
    assert status.code == 1 and "pgrst.db_pre_request is not set" in status.stderr
    admin.execute(f"alter role authenticator in database {kwq8_db.name} set pgrst.db_pre_request = 'public.other'")
    status = run_cli("db", "status", "--db-url", url)
    assert status.code == 1 and "pgrst.db_pre_request is public.other, not ratelimit.check_request" in status.stderr
    audit = run_cli("db", "audit", "--db-url", url, "--level", "error")
    assert audit.code == 1 and "ERROR data_api_limiter_missing role authenticator" in audit.stdout


def test_the_migration_goes_down_and_up_again(kwq8_db: TestDatabase, kwq8_project: Any) -> None:
    from kwq8 import migrations
    from kwq8.db import Target

    target = Target(kwq8_db.url("postgres"))

    def limiter_setting() -> Any:
        return kwq8_db.scalar(
            "select count(*) from pg_db_role_setting s cross join unnest(s.setconfig) c "
            "where s.setdatabase = (select oid from pg_database where datname = current_database()) "
            "and c like 'pgrst.db_pre_request=%%'"
        )

    # Down to the revision before abuse resistance, through whatever came after it.
    scripts = migrations.script_directory(kwq8_project)
    revision = scripts.get_current_head()
    assert migrations.status(kwq8_project, target).current == revision
    before = scripts.get_revision("0011").down_revision
    down = migrations.downgrade(kwq8_project, target, str(before))
    assert down[-1] == "0011"
    assert down[0] == revision
    assert limiter_setting() == 0
    assert kwq8_db.scalar("select to_regclass('private.api_hits_0')") is None
    assert (
        kwq8_db.scalar("select count(*) from public.error_codes where code in ('RATE_002', 'RATE_003', 'PROJ_006')")
        == 0
    )
    migrations.migrate(kwq8_project, target, reapply_all=True)
    assert limiter_setting() == 1
    assert kwq8_db.scalar("select count(*) from pg_class where relname ~ '^api_hits_[0-9]+$'") == 1024
