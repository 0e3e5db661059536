"""The frontend contract's rules: every code exists where the frontend looks it up, every
constraint of an exposed table answers a code, every catalogued code can actually reach the
frontend, and the committed generated files match the migrations (the drift gate)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from kwq8.testing.database import TestDatabase

from ..credit_helpers import SERVICE, balance, grant, key

pytest_plugins = ("tests.credit_fixtures",)

ROOT = Path(__file__).resolve().parents[2]
ERRORS_TS = ROOT / "types" / "errors.ts"
# raise_error('X', ...), a code kept to answer later (v_code := 'X'), or one read from the
# catalogue to answer it (release_hold's GEN_001).
RAISED = re.compile(r"(?:raise_error\(\s*|where code = |:=\s*)'([A-Z]+_[0-9]{3})'")
QUOTED_CODE = re.compile(r"""["']([A-Z]+_[0-9]{3})["']""")


def _catalogue(db: TestDatabase) -> set[str]:
    return {r["code"] for r in db.sql("select code from public.error_codes")}


def _sources(*dirs: str, pattern: str) -> dict[Path, str]:
    files: dict[Path, str] = {}
    for d in dirs:
        base = ROOT / d
        if base.exists():
            files.update({p: p.read_text() for p in sorted(base.rglob(pattern))})
    return files


def test_every_code_raised_in_functions_is_catalogued_and_in_errors_ts(kwq8_tx: TestDatabase) -> None:
    catalogue = _catalogue(kwq8_tx)
    in_ts = set(re.findall(r"^  ([A-Z]+_[0-9]{3}): \{ http_status", ERRORS_TS.read_text(), re.M))
    raised = {code for text in _sources("functions", pattern="*.sql").values() for code in RAISED.findall(text)}
    assert raised, "no raise_error calls found"
    assert raised - catalogue == set()
    assert in_ts == catalogue


def test_every_constraint_of_an_exposed_table_maps_to_a_code(kwq8_tx: TestDatabase) -> None:
    unmapped = kwq8_tx.sql(
        """
        select c.conrelid::regclass::text as tbl, c.conname
        from pg_constraint c join pg_class r on r.oid = c.conrelid
        where r.relnamespace = 'public'::regnamespace and c.contype in ('c', 'u', 'f')
          and not exists (select from private.constraint_error_codes m
                          where m.table_name = r.relname and m.constraint_name = c.conname)
        """
    )
    assert unmapped == []
    stale = kwq8_tx.sql(
        """
        select m.table_name, m.constraint_name from private.constraint_error_codes m
        where not exists (select from pg_constraint c join pg_class r on r.oid = c.conrelid
                          where r.relnamespace = 'public'::regnamespace and r.relname = m.table_name
                            and c.conname = m.constraint_name)
        """
    )
    assert stale == []


def test_check_constraints_have_names_that_say_what_they_check(kwq8_tx: TestDatabase) -> None:
    generated = kwq8_tx.sql(
        """
        select c.conname from pg_constraint c join pg_class r on r.oid = c.conrelid
        where r.relnamespace = 'public'::regnamespace and c.contype = 'c'
          and c.conname ~ ('^' || r.relname || '_check[0-9]*$')
        """
    )
    assert generated == []


def test_tables_clients_write_validate_rows_before_they_are_stored(kwq8_tx: TestDatabase) -> None:
    rows = kwq8_tx.sql(
        """
        select r.relname, exists (
            select from pg_trigger t
            where t.tgrelid = r.oid and t.tgname = r.relname || '_validate' and not t.tgisinternal
        ) as validated
        from pg_class r
        where r.relnamespace = 'public'::regnamespace and r.relkind = 'r'
          and (has_any_column_privilege('anon', r.oid, 'INSERT') or has_any_column_privilege('anon', r.oid, 'UPDATE')
               or has_any_column_privilege('authenticated', r.oid, 'INSERT')
               or has_any_column_privilege('authenticated', r.oid, 'UPDATE'))
        """
    )
    assert {r["relname"] for r in rows} >= {"bookings", "contact_messages", "projects"}
    assert [r["relname"] for r in rows if not r["validated"]] == []


def test_a_direct_write_with_a_bad_phone_answers_the_booking_code_in_arabic(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    owner = db.create_user()
    project = db.sql(
        "insert into public.projects (user_id, name, slug, subdomain, status) values (%s, 'S', 's', %s, 'published') "
        "returning id",
        (owner.user_id, "shop" + key()[:8]),
    )[0]["id"]
    from kwq8.postgrest import ApiError, Identity

    try:
        db.query_as(
            Identity.anon(),
            "insert into public.bookings (project_id, customer_name, phone, service, starts_at) "
            "values (%s, 'سارة', '12345', 'قص', now() + interval '1 day')",
            (project,),
        )
    except ApiError as exc:
        error = exc
    else:
        raise AssertionError("the booking was stored")
    message = db.scalar("select message_ar from public.error_codes where code = 'BOOK_001'")
    assert (error.status, error.code, error.message) == (400, "BOOK_001", message)
    assert "bookings_phone_check" in (error.details or "")


def test_a_failed_generation_returns_the_credits_and_answers_gen_001(db: TestDatabase) -> None:
    user = db.create_user()
    grant(db, user, 10)
    hold = db.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)
    assert balance(db, user) == 10 - hold["amount"]
    released = db.rpc(
        "release_hold",
        {"user_id": user.user_id, "hold_id": hold["hold_id"], "failure_reason": "generation_failed"},
        as_=SERVICE,
    )
    message = db.scalar("select message_ar from public.error_codes where code = 'GEN_001'")
    assert released["error"]["code"] == "GEN_001" and released["error"]["message"] == message
    assert released["failure_reason"] == "generation_failed" and released["released"] == hold["amount"]
    assert balance(db, user) == 10
    # The user reads why on their own ledger entry; a retry answers the same.
    entry = db.query_as(
        user,
        "select metadata ->> 'reason' from public.credit_transactions where id = %s",
        (released["transaction_id"],),
    )
    assert entry == [("generation_failed",)]
    assert db.rpc("release_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE) == released
    cancelled = db.rpc("reserve_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)
    plain = db.rpc("release_hold", {"user_id": user.user_id, "hold_id": cancelled["hold_id"]}, as_=SERVICE)
    assert plain["error"] is None and plain["failure_reason"] is None


def test_every_catalogued_code_can_reach_the_frontend(kwq8_tx: TestDatabase) -> None:
    """A code counts when a function raises it, the constraint map answers it, the services
    (billing, domains once they exist) name it, or toKwq8Error returns it."""
    produced = {code for text in _sources("functions", pattern="*.sql").values() for code in RAISED.findall(text)}
    produced |= {r["code"] for r in kwq8_tx.sql("select distinct code from private.constraint_error_codes")}
    service_dirs = [str(p.relative_to(ROOT)) for p in (ROOT / "src" / "kwq8").iterdir() if p.is_dir()]
    for path, text in _sources(*service_dirs, pattern="*.py").items():
        if "testing" in path.parts or path.name.startswith("fake_"):
            continue
        produced |= set(QUOTED_CODE.findall(text))
    template = (ROOT / "src" / "kwq8" / "contract" / "to_kwq8_error.ts").read_text()
    produced |= set(QUOTED_CODE.findall(template))
    from kwq8.contract.auth_codes import AUTH_ERROR_CODES

    produced |= set(AUTH_ERROR_CODES.values())
    assert sorted(_catalogue(kwq8_tx) - produced) == []


def test_the_committed_contract_matches_the_migrations() -> None:
    """The drift gate: `kwq8 gen types --check` on a scratch database migrated from this tree."""
    run = subprocess.run(
        [sys.executable, "-m", "kwq8", "gen", "types", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "KWQ8_DB_URL"},
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
