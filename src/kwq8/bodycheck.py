"""plpgsql_check over PL/pgSQL functions, shared by `kwq8 db lint` and `kwq8 db migrate`.

`migrate` checks every function the migration created or replaced, inside the migration's own
transaction, so a body naming a missing column fails the migration (and rolls it back) instead
of the first call in production. Where plpgsql_check is not installed, it is created for the
duration of the transaction and dropped before commit: the application database never keeps it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from kwq8.config import Project
from kwq8.db import Target, connect

# Functions the project owns: PL/pgSQL, outside the platform's schemas, not part of an extension.
PROJECT_PLPGSQL = """
    select p.oid, n.nspname, p.proname, p.prorettype = 'trigger'::regtype,
           (select t.tgrelid from pg_trigger t where t.tgfoid = p.oid limit 1)
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    join pg_language l on l.oid = p.prolang
    where l.lanname = 'plpgsql'
      and n.nspname not in ('pg_catalog', 'information_schema', 'extensions', 'auth', 'storage', 'cron', 'kwq8_shim')
      and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')
"""
_TEMP_SCHEMA = "kwq8_plpgsql_check"


@dataclass(frozen=True)
class BodyIssue:
    file: str
    line: int
    level: str
    sqlstate: str
    message: str
    function: str


def function_sources(project: Project) -> dict[tuple[str, str], tuple[str, int]]:
    """(schema, name) -> (file, line where its body starts), for mapping plpgsql_check lines."""
    from kwq8.migrations import declared_objects, repeatable_files

    sources: dict[tuple[str, str], tuple[str, int]] = {}
    candidates = [(f.rel, f.text) for f in repeatable_files(project)]
    candidates += [
        (p.relative_to(project.root).as_posix(), p.read_text()) for p in sorted(project.sql_dir.glob("*.sql"))
    ]
    for rel, text in candidates:
        for obj in declared_objects(text):
            if obj["type"] != "function":
                continue
            decl = re.search(
                rf"function\s+(?:\"?{re.escape(obj['schema'])}\"?\.)?\"?{re.escape(obj['name'])}\"?\s*\(",
                text,
                re.IGNORECASE,
            )
            if not decl:
                continue
            body = re.compile(r"\$[A-Za-z_]*\$").search(text, decl.end())
            start = text.count("\n", 0, body.end() if body else decl.start()) + 1
            sources.setdefault((obj["schema"], obj["name"]), (rel, start))
    return sources


def installed_schema(conn: psycopg.Connection[Any]) -> str | None:
    row = conn.execute(
        "select extnamespace::regnamespace::text from pg_extension where extname = 'plpgsql_check'"
    ).fetchone()
    return str(row[0]) if row else None


def snapshot(conn: psycopg.Connection[Any]) -> set[tuple[int, str]]:
    """(oid, xmin) of every function: a function created or replaced afterwards is not in it."""
    return {(int(r[0]), str(r[1])) for r in conn.execute("select oid, xmin::text from pg_proc").fetchall()}


def check(
    conn: psycopg.Connection[Any],
    schema: str,
    sources: dict[tuple[str, str], tuple[str, int]],
    *,
    only: set[int] | None = None,
    errors_only: bool = False,
) -> list[BodyIssue]:
    """plpgsql_check findings for the project's functions (or the oids in `only`)."""
    issues: list[BodyIssue] = []
    for oid, nspname, name, is_trigger, relid in conn.execute(PROJECT_PLPGSQL + " order by 2, 3").fetchall():
        if only is not None and oid not in only:
            continue
        if is_trigger and relid is None:
            continue  # plpgsql_check needs the table a trigger function fires on
        rows = conn.execute(
            f'select level, lineno, sqlstate, message from "{schema}".plpgsql_check_function_tb('
            "%s, %s, fatal_errors => false, other_warnings => true, performance_warnings => false, "
            "extra_warnings => false, security_warnings => true)",
            (oid, relid or 0),
        ).fetchall()
        file, base = sources.get((nspname, name), (f"{nspname}.{name}", 1))
        for level, lineno, sqlstate, message in rows:
            if errors_only and level != "error":
                continue
            line = base + max(int(lineno or 1), 1) - 1 if (nspname, name) in sources else int(lineno or 0)
            issues.append(BodyIssue(file, line, str(level), str(sqlstate or level), str(message), f"{nspname}.{name}"))
    return issues


def borrow(conn: psycopg.Connection[Any]) -> str | None:
    """Create plpgsql_check inside the current transaction when this role may (a superuser, or
    `postgres` on hosted Supabase, where supautils allows it); None when it cannot be had."""
    try:
        with conn.transaction():
            conn.execute(f"create schema {_TEMP_SCHEMA}")
            conn.execute(f"create extension plpgsql_check with schema {_TEMP_SCHEMA}")
    except psycopg.Error:
        return None
    return _TEMP_SCHEMA


def give_back(conn: psycopg.Connection[Any]) -> None:
    conn.execute(f"drop extension plpgsql_check; drop schema {_TEMP_SCHEMA}")


@contextlib.contextmanager
def lent(target: Target) -> Iterator[None]:
    """On a stack the toolkit runs, plpgsql_check installed by its superuser for the length of
    the block (as supautils lets `postgres` create it on hosted projects), then dropped again."""
    if target.admin_url is None:
        yield
        return
    with connect(target.admin_url, autocommit=True) as admin:
        row = admin.execute("select count(*) from pg_available_extensions where name = 'plpgsql_check'").fetchone()
        if installed_schema(admin) is not None or not row or not row[0]:
            yield
            return
        # In `extensions`, where Supabase puts it: tools calling it unqualified (supabase db lint) find it.
        admin.execute("create extension plpgsql_check with schema extensions")
        try:
            yield
        finally:
            admin.execute("drop extension if exists plpgsql_check")
