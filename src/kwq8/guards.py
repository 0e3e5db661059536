"""Catalog guards: invariants every table and function must satisfy, checked against pg_catalog.

They run in the test suite (tests/security/test_catalog_guards.py) against the migrated schema, so a
future table without RLS or a function open to anon fails CI instead of reaching production.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

from kwq8.system_schemas import SYSTEM_SCHEMAS


def _names(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> list[str]:
    return [r[0] for r in conn.execute(query, params).fetchall()]


def tables_without_rls(conn: psycopg.Connection[Any], schemas: list[str]) -> list[str]:
    """Tables, partitioned tables and their kin in exposed schemas with row level security off."""
    return _names(
        conn,
        """
        select format('%%I.%%I', n.nspname, c.relname)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p') and n.nspname = any(%s) and not c.relrowsecurity
        order by 1
    """,
        (schemas,),
    )


def security_definer_without_search_path(conn: psycopg.Connection[Any]) -> list[str]:
    """SECURITY DEFINER functions that do not pin search_path (a privilege-escalation vector)."""
    return _names(
        conn,
        """
        select p.oid::regprocedure::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.prosecdef
          and n.nspname <> all(%s)
          and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')
          and not exists (select from unnest(coalesce(p.proconfig, '{}')) c where c like 'search_path=%%')
        order by 1
    """,
        (list(SYSTEM_SCHEMAS),),
    )


def security_definer_in_exposed_schemas(conn: psycopg.Connection[Any], schemas: list[str]) -> list[str]:
    """SECURITY DEFINER functions in a schema the Data API exposes (they belong in private schemas)."""
    return _names(
        conn,
        """
        select p.oid::regprocedure::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.prosecdef and n.nspname = any(%s)
          and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')
        order by 1
    """,
        (schemas,),
    )


def functions_executable_by(
    conn: psycopg.Connection[Any], role: str, schemas: list[str], allow: list[str]
) -> list[str]:
    """Functions in `schemas` that `role` may execute, other than the allow-listed ones."""
    found = _names(
        conn,
        """
        select p.oid::regprocedure::text
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any(%s)
          and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')
          and has_function_privilege(%s, p.oid, 'execute')
        order by 1
    """,
        (schemas, role),
    )
    allowed = set(allow)
    return [f for f in found if f not in allowed and f.split("(")[0] not in allowed]


def table_privileges_of(conn: psycopg.Connection[Any], role: str, schemas: list[str], allow: list[str]) -> list[str]:
    """Tables, views and sequences in `schemas` on which `role` holds any privilege, minus the allow-list."""
    rows = conn.execute(
        """
        select format('%%I.%%I', n.nspname, c.relname) as name,
               -- has_any_column_privilege also sees grants on some columns only.
               array_remove(array[
                   case when has_any_column_privilege(%s, c.oid, 'select') then 'select' end,
                   case when has_any_column_privilege(%s, c.oid, 'insert') then 'insert' end,
                   case when has_any_column_privilege(%s, c.oid, 'update') then 'update' end,
                   case when has_table_privilege(%s, c.oid, 'delete') then 'delete' end,
                   case when has_table_privilege(%s, c.oid, 'truncate') then 'truncate' end,
                   case when has_any_column_privilege(%s, c.oid, 'references') then 'references' end,
                   case when has_table_privilege(%s, c.oid, 'trigger') then 'trigger' end
               ], null) as privs
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'f') and n.nspname = any(%s)
        order by 1
    """,
        (role,) * 7 + (schemas,),
    ).fetchall()
    allowed: dict[str, set[str]] = {}
    for entry in allow:
        name, _, privs = entry.partition(":")
        allowed[name] = set(privs.split(",")) if privs else {"*"}
    violations = []
    for name, privs in rows:
        permitted = allowed.get(name, set())
        extra = [p for p in privs if "*" not in permitted and p not in permitted]
        if extra:
            violations.append(f"{name} ({', '.join(extra)})")
    return violations


_SQL_NOISE = re.compile(r"--[^\n]*|/\*.*?\*/|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", re.DOTALL)
_DOLLAR_QUOTE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$.*?\$\1\$", re.DOTALL)
# A statement starts the body or follows a PL/pgSQL block word (`begin`, `then`, `else`, `loop`);
# `for update` and `on conflict do update` are not statements of their own.
_WRITE = re.compile(
    r"^\s*(?:(?:begin|then|else|loop)\s+)*(?:with\b.*?\)\s*)?(update|delete)\b", re.IGNORECASE | re.DOTALL
)


def unfiltered_writes(body: str) -> list[str]:
    """`update`/`delete` statements without a WHERE clause in a function body. Supabase's
    pg-safeupdate refuses them in Data API sessions (authenticator), where RPCs run."""
    text = _DOLLAR_QUOTE.sub(" '' ", _SQL_NOISE.sub(" ", body))
    found = []
    for statement in re.split(r";|\bdeclare\b.*?\bbegin\b", text, flags=re.IGNORECASE | re.DOTALL):
        match = _WRITE.match(statement)
        if match and not re.search(r"\bwhere\b", statement[match.end() :], re.IGNORECASE):
            found.append(" ".join(statement[match.start(1) :].split())[:80])
    return found


def safeupdate_violations(conn: psycopg.Connection[Any], schemas: list[str]) -> list[str]:
    """Project functions (outside the platform's schemas) with an update or delete that has no
    WHERE: called through the Data API they fail with "UPDATE/DELETE requires a WHERE clause"."""
    rows = conn.execute(
        """
        select p.oid::regprocedure::text, p.prosrc
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        join pg_language l on l.oid = p.prolang
        where l.lanname in ('plpgsql', 'sql') and n.nspname <> all(%s)
          and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')
        order by 1
    """,
        (list(SYSTEM_SCHEMAS),),
    ).fetchall()
    return [f"{name}: {stmt}" for name, body in rows for stmt in unfiltered_writes(body or "")]
