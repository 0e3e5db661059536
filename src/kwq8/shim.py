"""The local Supabase shim: applied only to databases of a stack the toolkit runs itself."""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg

from kwq8.errors import Kwq8Error
from kwq8.migrations import execute_file

SHIM_MARKER = "kwq8 local shim"


def shim_files() -> list[tuple[str, str]]:
    folder = resources.files("kwq8") / "shim"
    files = sorted((p.name, p.read_text(encoding="utf-8")) for p in folder.iterdir() if p.name.endswith(".sql"))
    return files


def install(admin_conn: psycopg.Connection[Any]) -> None:
    """Apply every shim file in one transaction, as the bootstrap superuser of a local cluster."""
    with admin_conn.transaction():
        for name, text in shim_files():
            execute_file(admin_conn, text, f"shim/{name}")


def flavour(conn: psycopg.Connection[Any]) -> str:
    """'shim' for a local shimmed database, 'supabase' for one with Supabase's own auth schema,
    'plain' for a Postgres without Supabase's roles and auth helpers."""
    row = conn.execute(
        "select obj_description(to_regnamespace('auth'), 'pg_namespace'), "
        "to_regprocedure('auth.uid()') is not null, "
        "(select count(*) from pg_roles where rolname in ('anon', 'authenticated', 'service_role'))"
    ).fetchone()
    assert row is not None
    comment, has_uid, api_roles = row
    if comment and SHIM_MARKER in comment:
        return "shim"
    if has_uid and api_roles == 3:
        return "supabase"
    return "plain"


def require_supabase_like(conn: psycopg.Connection[Any], where: str) -> str:
    kind = flavour(conn)
    if kind == "plain":
        raise Kwq8Error(
            f"{where} has no Supabase roles or auth schema",
            hint="point --db-url at a Supabase database (supabase start, or a hosted project), "
            "or use the local stack: kwq8 stack start",
            exit_code=2,
        )
    return kind
