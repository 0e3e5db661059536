"""Guards every present and future table and function must pass, and proof that each can fail."""

from __future__ import annotations

from typing import Any

import pytest

from kwq8 import guards
from kwq8.config import Project
from kwq8.testing.database import TestDatabase

# Also run on PostgreSQL 17 in CI (scripts/test).
pytestmark = pytest.mark.pg17


@pytest.fixture
def conn(kwq8_tx: TestDatabase) -> Any:
    return kwq8_tx._nested  # the rolled-back connection: violating objects vanish after the test


def _allow(project: Project, key: str) -> list[str]:
    return list(project.tool_settings().get("allow", {}).get(key, []))


def check_all(conn: Any, project: Project) -> dict[str, list[str]]:
    exposed = project.exposed_schemas
    return {
        "tables without RLS": guards.tables_without_rls(conn, exposed),
        "SECURITY DEFINER without search_path": guards.security_definer_without_search_path(conn),
        "SECURITY DEFINER in exposed schema": guards.security_definer_in_exposed_schemas(conn, exposed),
        "functions executable by anon": guards.functions_executable_by(
            conn, "anon", exposed, _allow(project, "anon_functions")
        ),
        "table privileges of anon": guards.table_privileges_of(conn, "anon", exposed, _allow(project, "anon_tables")),
        "functions executable by PUBLIC in private schemas": guards.functions_executable_by(
            conn, "public", ["private"], []
        ),
        "update/delete without WHERE (pg-safeupdate)": guards.safeupdate_violations(conn, exposed),
    }


def test_project_schema_passes_every_guard(conn: Any, kwq8_project: Project) -> None:
    violations = {k: v for k, v in check_all(conn, kwq8_project).items() if v}
    assert violations == {}


def test_guard_catches_table_without_rls(conn: Any, kwq8_project: Project) -> None:
    conn.execute("create table public.leaky (id bigint primary key)")
    assert "public.leaky" in check_all(conn, kwq8_project)["tables without RLS"]
    conn.execute("alter table public.leaky enable row level security")
    assert "public.leaky" not in check_all(conn, kwq8_project)["tables without RLS"]


def test_guard_catches_security_definer_without_search_path(conn: Any, kwq8_project: Project) -> None:
    conn.execute("create function private.elevated() returns int language sql security definer as $$ select 1 $$")
    assert "private.elevated()" in check_all(conn, kwq8_project)["SECURITY DEFINER without search_path"]
    conn.execute("alter function private.elevated() set search_path = ''")
    assert check_all(conn, kwq8_project)["SECURITY DEFINER without search_path"] == []


def test_guard_catches_security_definer_in_public(conn: Any, kwq8_project: Project) -> None:
    conn.execute(
        "create function public.exposed_definer() returns int language sql security definer "
        "set search_path = '' as $$ select 1 $$"
    )
    assert "exposed_definer()" in check_all(conn, kwq8_project)["SECURITY DEFINER in exposed schema"]


def test_guard_catches_function_executable_by_anon(conn: Any, kwq8_project: Project) -> None:
    conn.execute("create function public.open_door() returns int language sql as $$ select 1 $$")
    # Secure defaults from the baseline migration: not executable by anon until granted.
    assert "open_door()" not in check_all(conn, kwq8_project)["functions executable by anon"]
    conn.execute("grant execute on function public.open_door() to anon")
    assert "open_door()" in check_all(conn, kwq8_project)["functions executable by anon"]
    assert guards.functions_executable_by(conn, "anon", ["public"], ["open_door"]) == []


def test_guard_catches_anon_table_privileges(conn: Any, kwq8_project: Project) -> None:
    conn.execute(
        "create table public.visible (id bigint primary key); alter table public.visible enable row level security"
    )
    assert check_all(conn, kwq8_project)["table privileges of anon"] == []
    conn.execute("grant select, insert on public.visible to anon")
    assert check_all(conn, kwq8_project)["table privileges of anon"] == ["public.visible (select, insert)"]
    allow = _allow(kwq8_project, "anon_tables")
    assert guards.table_privileges_of(conn, "anon", ["public"], [*allow, "public.visible:insert"]) == [
        "public.visible (select)"
    ]
    assert guards.table_privileges_of(conn, "anon", ["public"], [*allow, "public.visible:insert,select"]) == []


def test_guard_sees_column_level_grants(conn: Any, kwq8_project: Project) -> None:
    conn.execute("create table public.form (id bigint primary key, note text, secret text)")
    conn.execute("alter table public.form enable row level security")
    conn.execute("grant insert (note) on public.form to anon")
    assert "public.form (insert)" in check_all(conn, kwq8_project)["table privileges of anon"]


def test_guard_catches_private_function_open_to_public(conn: Any, kwq8_project: Project) -> None:
    conn.execute("create function private.helper() returns int language sql as $$ select 1 $$")
    assert check_all(conn, kwq8_project)["functions executable by PUBLIC in private schemas"] == []
    conn.execute("grant execute on function private.helper() to public")
    assert check_all(conn, kwq8_project)["functions executable by PUBLIC in private schemas"] == ["private.helper()"]


def test_guard_catches_update_or_delete_without_where(conn: Any, kwq8_project: Project) -> None:
    key = "update/delete without WHERE (pg-safeupdate)"
    conn.execute(
        "create function private.wipe() returns void language plpgsql set search_path = '' as $$ "
        "begin delete from public.plans; end $$"
    )
    assert check_all(conn, kwq8_project)[key] == ["private.wipe(): delete from public.plans"]
    conn.execute(
        "create or replace function private.wipe() returns void language plpgsql set search_path = '' as $$ "
        "begin delete from public.plans where code = 'x; delete'; -- update all\n end $$"
    )
    assert check_all(conn, kwq8_project)[key] == []
