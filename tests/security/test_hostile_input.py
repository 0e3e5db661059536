"""Hostile input to every exposed function: a property test (hypothesis) calls each public RPC
that anon, authenticated or service_role may execute with wrong types, nulls, huge strings,
negative and NaN amounts, far-future dates and other users' ids, as each API role, through the
PostgREST envelope. Every answer is a success or a documented error with its HTTP status:
a KWq8 code from the catalogue (with its catalogued status and Arabic message), or, only for a
value this test made ill-typed on purpose, the SQLSTATE PostgREST answers when the JSON value
cannot become the parameter's type (docs/data-api-limits.md, "Hostile input"). Never a 5xx.
The expected codes are this file's own lists.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

# The answer when a JSON value cannot be cast to the parameter's type, before the function runs:
# invalid text representation, unsupported Unicode escape (NUL), numeric value out of range,
# invalid datetime format, datetime field overflow.
CAST_CODES = {"22P02", "22P05", "22003", "22007", "22008"}
# Codes a browser RPC may answer, by function (anything else is a finding). RATE_001 is the limiter's.
BROWSER_CODES = {
    "spend_credits": {
        "CREDIT_001",
        "CREDIT_003",
        "CREDIT_004",
        "CREDIT_005",
        "CREDIT_006",
        "CREDIT_015",
        "VAL_001",
        "VAL_002",
    },
    "reserve_credits": {
        "CREDIT_001",
        "CREDIT_002",
        "CREDIT_003",
        "CREDIT_004",
        "CREDIT_005",
        "CREDIT_006",
        "CREDIT_015",
        "VAL_001",
        "VAL_002",
    },
    "get_credit_summary": set(),
    "get_credit_usage": {"VAL_001"},
    "get_hold": {"CREDIT_007", "GEN_001"},
    "set_domain_contact": {"DOM_015"},
}
KWQ8_CODE = re.compile(r"^[A-Z]+_[0-9]{3}$")
ARABIC = re.compile(r"[\u0600-\u06ff]")


@dataclass(frozen=True)
class Value:
    json: Any
    ill_typed: bool = False

    def __post_init__(self) -> None:
        # PostgreSQL text and jsonb cannot hold NUL: such a value never reaches a function.
        if "\\u0000" in json.dumps(self.json):
            object.__setattr__(self, "ill_typed", True)


def text_values() -> st.SearchStrategy[Value]:
    plain = st.one_of(
        st.none(),
        st.just(""),
        st.text(max_size=40),
        st.just("x" * 100_000),
        st.just("'; drop table public.users; --"),
        st.just("حجز موعد 🌙"),
        st.just("bell\u0007"),
        st.integers(),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
        st.lists(st.integers(), max_size=3),
        st.booleans(),
    ).map(Value)
    return st.one_of(plain, st.just(Value("a\u0000b", ill_typed=True)))


def uuid_values(ids: list[str]) -> st.SearchStrategy[Value]:
    return st.one_of(
        st.none().map(Value),
        st.sampled_from([*ids, str(uuid.UUID(int=0)), str(uuid.uuid4())]).map(Value),
        st.sampled_from(["not-a-uuid", "", "1234", "' or 1=1 --"]).map(lambda v: Value(v, ill_typed=True)),
        st.integers().map(lambda v: Value(v, ill_typed=True)),
    )


def numeric_values() -> st.SearchStrategy[Value]:
    return st.one_of(
        st.none().map(Value),
        st.integers(min_value=-(10**30), max_value=10**30).map(Value),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "0.001", "-0", "1e6", "0.000000001"]).map(Value),
        st.decimals(allow_nan=False, allow_infinity=False, places=4).map(lambda d: Value(str(d))),
        st.sampled_from(["abc", "", "1,5", "--1"]).map(lambda v: Value(v, ill_typed=True)),
    )


def integer_values() -> st.SearchStrategy[Value]:
    return st.one_of(
        st.none().map(Value),
        st.integers(min_value=-(2**31), max_value=2**31 - 1).map(Value),
        st.integers(min_value=2**31, max_value=2**80).map(lambda v: Value(v, ill_typed=True)),
        st.sampled_from(["x", "1.5", ""]).map(lambda v: Value(v, ill_typed=True)),
    )


def timestamp_values() -> st.SearchStrategy[Value]:
    return st.one_of(
        st.none().map(Value),
        st.sampled_from(
            ["2026-05-10T09:00:00+00:00", "9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "infinity", "-infinity"]
        ).map(Value),
        st.sampled_from(["not a date", "2026-13-45", "294277-01-01T00:00:00Z", ""]).map(
            lambda v: Value(v, ill_typed=True)
        ),
    )


def values_for(type_name: str, ids: list[str]) -> st.SearchStrategy[Value]:
    if type_name == "uuid":
        return uuid_values(ids)
    if type_name == "numeric":
        return numeric_values()
    if type_name in ("integer", "bigint", "smallint"):
        return integer_values()
    if type_name.startswith("timestamp"):
        return timestamp_values()
    if type_name == "boolean":
        return st.one_of(st.sampled_from([None, True, False]).map(Value), st.just(Value("maybe", ill_typed=True)))
    if type_name in ("jsonb", "json"):
        return st.one_of(
            st.none(),
            st.just({}),
            st.just([]),
            st.dictionaries(st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=8)), max_size=4),
            st.just({"deep": [[[[{"x": "y" * 5000}]]]]}),
        ).map(Value)
    return text_values()


def brief(args: dict[str, Any]) -> str:
    return f"{args!r:.300}"


def exposed_functions(db: TestDatabase) -> list[dict[str, Any]]:
    return db.sql(
        """
        select p.proname as name,
            coalesce(p.proargnames[1:p.pronargs], '{}') as arg_names,
            array(select format_type(t, null) from unnest(p.proargtypes::oid[]) as t) as arg_types,
            array(select r.rolname::text from pg_roles as r
                  where r.rolname in ('anon', 'authenticated', 'service_role')
                      and has_function_privilege(r.oid, p.oid, 'execute') order by 1) as roles
        from pg_proc as p inner join pg_namespace as n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.prokind = 'f'
            and exists (select from pg_roles as r where r.rolname in ('anon', 'authenticated', 'service_role')
                        and has_function_privilege(r.oid, p.oid, 'execute'))
            and not exists (select from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
        order by 1
        """
    )


def _function_names() -> list[str]:
    # Collected without a database: the names the catalogue test below checks are complete.
    return sorted(EXPECTED_FUNCTIONS)


EXPECTED_FUNCTIONS = {
    "attach_checkout_charge",
    "begin_refund",
    "capture_hold",
    "confirm_payment",
    "create_checkout",
    "create_pack_checkout",
    "deduct_credits",
    "extend_hold",
    "finish_refund",
    "finish_storage_cleanup",
    "get_credit_summary",
    "get_credit_usage",
    "get_hold",
    "get_payment",
    "grant_credits",
    "hit_rate_limit",
    "lookup_payment_event",
    "preview_checkout",
    "reconcile_candidates",
    "record_checkout_error",
    "record_payment_event",
    "record_status_check",
    "refund_batch",
    "refund_transaction",
    "release_hold",
    "request_refund",
    "reserve_credits",
    "run_credit_sweepers",
    "run_payment_jobs",
    "schedule_plan_change",
    "set_cancel_at_period_end",
    "set_domain_contact",
    "spend_credits",
    "storage_cleanup_batch",
    "take_status_call",
}
OUTCOMES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_outcomes() -> Iterator[None]:
    """Prints what the fuzz sent and got once the module's tests ran (`pytest -s` shows it)."""
    yield
    if OUTCOMES:
        total = sum(OUTCOMES.values())
        ok = sum(v for k, v in OUTCOMES.items() if k.endswith(" ok"))
        print(f"\n[hostile input] {total} calls, {ok} accepted, {total - ok} refused with a documented code")
        codes = Counter(k.split(" ", 1)[1] for k in OUTCOMES.elements())
        print("[hostile input] answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(codes.items())))


def test_the_fuzz_covers_every_exposed_function(kwq8_tx: TestDatabase) -> None:
    assert {f["name"] for f in exposed_functions(kwq8_tx)} == EXPECTED_FUNCTIONS


@pytest.mark.parametrize("name", _function_names())
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_arguments_get_a_documented_answer(kwq8_tx: TestDatabase, name: str, data: st.DataObject) -> None:
    db = kwq8_tx
    fn = next(f for f in exposed_functions(db) if f["name"] == name)
    user, other = db.create_user(), db.create_user()
    ids = [str(user.user_id), str(other.user_id)]
    identities = {"anon": Identity.anon(), "authenticated": user, "service_role": Identity.service_role()}
    allowed = st.sampled_from([(r, identities[r]) for r in fn["roles"]])
    # Mostly a role that may call it (to reach the function's own checks), sometimes any role.
    who = data.draw(st.one_of(allowed, allowed, allowed, st.sampled_from(list(identities.items()))))
    args: dict[str, Any] = {}
    ill_typed = False
    for arg, type_name in zip(fn["arg_names"], fn["arg_types"], strict=True):
        value = data.draw(values_for(type_name, ids), label=arg)
        args[arg] = value.json
        ill_typed = ill_typed or value.ill_typed
    try:
        db.rpc(name, args, as_=who[1])
        OUTCOMES[f"{name} ok"] += 1
        return
    except ApiError as error:
        outcome = error
    OUTCOMES[f"{name} {outcome.status} {outcome.code}"] += 1
    assert outcome.status < 500, (name, brief(args), outcome)
    if KWQ8_CODE.match(outcome.code):
        row = db.sql("select http_status, message_ar from public.error_codes where code = %s", (outcome.code,))
        assert row and row[0]["http_status"] == outcome.status, (name, outcome)
        assert ARABIC.search(outcome.message), (name, outcome)
        if name in BROWSER_CODES and who[0] == "authenticated":
            assert outcome.code in BROWSER_CODES[name] | {"RATE_001"}, (name, brief(args), outcome)
    elif outcome.code in CAST_CODES:
        assert ill_typed, (name, brief(args), outcome)
        assert outcome.status == 400
    elif outcome.code == "42501":
        # A role without EXECUTE: PostgREST's 401 (anon) or 403.
        assert who[0] not in fn["roles"], (name, who[0], outcome)
    else:
        pytest.fail(
            f"{name} as {who[0]} with {brief(args)} answered {outcome.status} {outcome.code}: {outcome.message}"
        )


# What a visitor may write, as PostgREST writes it: the JSON body through json_populate_record
# with the table's column types, then the policies, triggers and constraints.
VISITOR_TABLES = {
    "bookings": {
        "project_id": "uuid",
        "customer_name": "text",
        "phone": "text",
        "email": "text",
        "service": "text",
        "starts_at": "timestamptz",
        "notes": "text",
    },
    "contact_messages": {
        "project_id": "uuid",
        "name": "text",
        "email": "text",
        "phone": "text",
        "subject": "text",
        "message": "text",
    },
}
# Besides catalogued codes and cast errors: a check constraint (23514) or a missing required
# field (23502) refuses the row (docs/hostile-input.md); a project that takes no submissions
# fails the insert policy (42501, 401 for a visitor).
TABLE_CODES = {"23514", "23502", "42501"}


@pytest.mark.parametrize("table", sorted(VISITOR_TABLES))
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_visitor_rows_get_a_documented_answer(kwq8_tx: TestDatabase, table: str, data: st.DataObject) -> None:
    from ..tenancy.test_tenancy_matrix import add_project

    db = kwq8_tx
    owner = db.create_user()
    projects = [add_project(db, owner), add_project(db, db.create_user(), status="draft")]
    columns = VISITOR_TABLES[table]
    row: dict[str, Any] = {}
    ill_typed = False
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    valid = {
        "customer_name": "نورة",
        "phone": "55123456",
        "email": "v@example.com",
        "service": "قص شعر",
        "starts_at": tomorrow,
        "notes": None,
        "name": "زائر",
        "subject": None,
        "message": "مرحبا",
        "project_id": projects[0],
    }
    for column, type_name in columns.items():
        # Half the fields keep a good value, so rows also get past the casts to the rules.
        hostile = values_for(type_name, projects) if column == "project_id" else values_for(type_name, [])
        value = data.draw(st.one_of(st.just(Value(valid[column])), hostile))
        if column == "phone" and data.draw(st.booleans()):
            value = Value(data.draw(st.sampled_from(["55123456", "+96555123456", "+1 555 0100 123", "٥٥١٢٣٤٥٦"])))
        row[column] = value.json
        ill_typed = ill_typed or value.ill_typed
    names = ", ".join(columns)
    statement = (
        f"insert into public.{table} ({names}) select {names} from json_populate_record(null::public.{table}, %s::json)"
    )
    try:
        with db.request(Identity.anon(), method="POST", path=f"/{table}") as cur:
            cur.execute(statement, (json.dumps(row),))
        OUTCOMES[f"{table} ok"] += 1
        return
    except ApiError as error:
        outcome = error
    OUTCOMES[f"{table} {outcome.status} {outcome.code}"] += 1
    assert outcome.status < 500, (table, brief(row), outcome)
    if KWQ8_CODE.match(outcome.code):
        catalogued = db.sql("select http_status from public.error_codes where code = %s", (outcome.code,))
        assert catalogued and catalogued[0]["http_status"] == outcome.status, (table, outcome)
    elif outcome.code in CAST_CODES:
        assert ill_typed, (table, brief(row), outcome)
    else:
        assert outcome.code in TABLE_CODES, (table, brief(row), outcome)
