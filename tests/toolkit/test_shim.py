"""The local shim behaves like Supabase's database image where our SQL relies on it."""

from __future__ import annotations

import psycopg
import pytest

from kwq8 import shim
from kwq8.db import Target, connect
from kwq8.errors import Kwq8Error
from kwq8.postgrest import Identity
from kwq8.stack import Stack
from kwq8.testing.database import TestDatabase

# Also run on PostgreSQL 17 in CI (scripts/test).
pytestmark = pytest.mark.pg17


def test_roles_have_supabase_attributes(kwq8_tx: TestDatabase) -> None:
    rows = {
        r["rolname"]: r
        for r in kwq8_tx.sql(
            "select rolname, rolsuper, rolbypassrls, rolcreaterole, rolcanlogin, rolinherit from pg_roles "
            "where rolname in ('supabase_admin', 'postgres', 'anon', 'authenticated', 'service_role', 'authenticator')"
        )
    }
    assert rows["supabase_admin"]["rolsuper"]
    postgres = rows["postgres"]
    assert not postgres["rolsuper"] and postgres["rolbypassrls"] and postgres["rolcreaterole"]
    assert rows["service_role"]["rolbypassrls"] and not rows["service_role"]["rolcanlogin"]
    for api_role in ("anon", "authenticated"):
        assert not rows[api_role]["rolbypassrls"] and not rows[api_role]["rolsuper"]
    assert rows["authenticator"]["rolcanlogin"] and not rows["authenticator"]["rolinherit"]
    members = {
        r["role"]
        for r in kwq8_tx.sql(
            "select r.rolname as role from pg_auth_members m join pg_roles r on r.oid = m.roleid "
            "join pg_roles u on u.oid = m.member where u.rolname = 'authenticator'"
        )
    }
    assert members == {"anon", "authenticated", "service_role"}


def test_auth_helpers_follow_request_jwt_claims(kwq8_tx: TestDatabase) -> None:
    sql = "select auth.uid()::text, auth.role(), auth.email(), auth.jwt() ->> 'aal'"
    # No claims at all, and the empty string a rolled-back set_config leaves behind: no user.
    assert kwq8_tx.sql(sql)[0] == {"uid": None, "role": None, "email": None, "?column?": None}
    kwq8_tx.sql("select set_config('request.jwt.claims', '', true)")
    assert kwq8_tx.scalar("select auth.uid()") is None
    user = Identity.user("0b7d1f1e-8a9c-4f5e-9d55-2c6c7f1f0a11", "u@example.test")
    row = kwq8_tx.query_as(user, sql)[0]
    assert row == (
        "0b7d1f1e-8a9c-4f5e-9d55-2c6c7f1f0a11",
        "authenticated",
        "u@example.test",
        "aal1",
    )
    # The legacy per-claim setting still wins, as in Supabase's definition.
    kwq8_tx.sql("select set_config('request.jwt.claim.sub', '11111111-1111-1111-1111-111111111111', true)")
    assert str(kwq8_tx.scalar("select auth.uid()")) == "11111111-1111-1111-1111-111111111111"


def test_auth_users_is_not_readable_by_api_roles(kwq8_tx: TestDatabase, anon: Identity) -> None:
    user = kwq8_tx.create_user()
    for who in (anon, user):
        with pytest.raises(Exception) as info:
            kwq8_tx.query_as(who, "select * from auth.users")
        assert getattr(info.value, "code", "") == "42501"


def test_storage_path_helpers(kwq8_tx: TestDatabase) -> None:
    row = kwq8_tx.sql(
        "select storage.foldername('p1/img/logo.png') as f, storage.filename('p1/img/logo.png') as n, "
        "storage.extension('p1/img/logo.png') as e"
    )[0]
    assert row == {"f": ["p1", "img"], "n": "logo.png", "e": "png"}
    assert kwq8_tx.scalar("select relrowsecurity from pg_class where oid = 'storage.objects'::regclass")


def test_supabase_extensions_live_in_extensions_schema(kwq8_tx: TestDatabase) -> None:
    rows = dict(
        (r["extname"], r["schema"])
        for r in kwq8_tx.sql("select extname, extnamespace::regnamespace::text as schema from pg_extension")
    )
    assert rows["pgcrypto"] == "extensions" and rows["uuid-ossp"] == "extensions"
    assert kwq8_tx.scalar("select length(extensions.gen_random_uuid()::text)") == 36
    for optional in ("plpgsql_check", "pgtap"):
        available = kwq8_tx.scalar("select count(*) from pg_available_extensions where name = %s", (optional,))
        assert (optional in rows) == bool(available)


def test_flavour_detection(kwq8_stack: Stack, blank_db: Target) -> None:
    with connect(blank_db.url) as conn:
        assert shim.flavour(conn) == "shim"
    kwq8_stack.create_database("plain_db")
    try:
        with connect(kwq8_stack.url("supabase_admin", "plain_db")) as conn:
            assert shim.flavour(conn) == "plain"
            with pytest.raises(Kwq8Error, match="no Supabase roles or auth schema"):
                shim.require_supabase_like(conn, "plain_db")
            # What a real Supabase database looks like from here: auth helpers, API roles, no marker.
            conn.execute("create schema auth")
            conn.execute("create function auth.uid() returns uuid language sql as $$ select null::uuid $$")
            assert shim.flavour(conn) == "supabase"
    finally:
        kwq8_stack.drop_database("plain_db")


def test_api_roles_cannot_escalate(kwq8_db: TestDatabase, anon: Identity) -> None:
    # Needs kwq8_db: its requests run on `authenticator` connections, as PostgREST's do.
    user = kwq8_db.create_user()
    for who in (anon, user, Identity.service_role()):
        for target in ("postgres", "supabase_admin"):
            with pytest.raises(Exception) as info:
                kwq8_db.query_as(who, f"set role {target}")
            assert getattr(info.value, "code", "") == "42501"


def test_statement_timeouts_of_api_roles_apply_per_request(kwq8_db: TestDatabase, anon: Identity) -> None:
    user = kwq8_db.create_user()
    assert kwq8_db.query_as(anon, "show statement_timeout") == [("3s",)]
    assert kwq8_db.query_as(user, "show statement_timeout") == [("8s",)]


def test_shim_install_is_idempotent(kwq8_stack: Stack, blank_db: Target) -> None:
    kwq8_stack.install_shim(blank_db.dbname)
    with connect(blank_db.url) as conn:
        assert shim.flavour(conn) == "shim"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create role intruder superuser")
