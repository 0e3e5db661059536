"""One naming rule for the RPCs and their cores: every function of an exposed schema that an API
role (anon, authenticated, service_role) may execute is a thin wrapper whose body calls exactly one
function of the same name in a schema the Data API does not serve (`public.X` calls
`<schema>.X`), so the code of an RPC is found by its name. The few RPCs without such a core are
listed in EXCEPTIONS with the reason; a new RPC fails this test until it follows the rule or is
listed there.
"""

from __future__ import annotations

import re

from kwq8.config import Project
from kwq8.testing.database import TestDatabase

API_ROLES = ("anon", "authenticated", "service_role")

# function (regprocedure) -> why it has no core of its own name. Written by hand.
EXCEPTIONS: dict[str, str] = {}

# A call of a schema-qualified function: `schema.name(`, names possibly double-quoted.
_CALL = re.compile(r'("?)([a-z_][a-z0-9_]*)\1\s*\.\s*("?)([a-z_][a-z0-9_]*)\3\s*\(', re.IGNORECASE)


def _code(source: str) -> str:
    """The body without its comments and string literals, which may name functions they do not call."""
    source = re.sub(r"--[^\n]*", "", source)
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"'(?:[^']|'')*'", "''", source)


def api_functions(db: TestDatabase, exposed: list[str]) -> list[dict[str, str]]:
    """Every function of an exposed schema an API role may execute (extensions' own aside)."""
    return db.sql(
        """
        select distinct n.nspname as schema, p.proname as name, p.oid::regprocedure::text as signature,
            p.prosrc as source
        from pg_proc as p
        inner join pg_namespace as n on n.oid = p.pronamespace
        cross join pg_roles as r
        where n.nspname = any(%s::text [])
            and r.rolname = any(%s::text [])
            and has_function_privilege(r.oid, p.oid, 'execute')
            and not exists (select from pg_depend as d where d.objid = p.oid and d.deptype = 'e')
        order by signature
        """,
        (exposed, list(API_ROLES)),
    )


def violations(db: TestDatabase, exposed: list[str], exceptions: dict[str, str]) -> list[str]:
    """What breaks the rule: a function (not an exception) whose body calls no function of its own
    name in a non-exposed schema, several, or one that does not exist."""
    existing = {
        (r["schema"], r["name"])
        for r in db.sql(
            "select n.nspname as schema, p.proname as name from pg_proc as p "
            "inner join pg_namespace as n on n.oid = p.pronamespace"
        )
    }
    found: list[str] = []
    for fn in api_functions(db, exposed):
        if fn["signature"] in exceptions:
            continue
        calls = [
            (m.group(2).lower(), m.group(4).lower())
            for m in _CALL.finditer(_code(fn["source"]))
            if m.group(4).lower() == fn["name"] and m.group(2).lower() not in exposed
        ]
        if len(calls) != 1:
            found.append(f"{fn['signature']}: calls {len(calls)} functions named {fn['name']} in other schemas")
        elif calls[0] not in existing:
            found.append(f"{fn['signature']}: calls {calls[0][0]}.{calls[0][1]}, which does not exist")
    return found


def test_every_rpc_calls_the_core_of_its_own_name(kwq8_tx: TestDatabase, kwq8_project: Project) -> None:
    exposed = list(kwq8_project.exposed_schemas)
    assert violations(kwq8_tx, exposed, EXCEPTIONS) == []
    # An exception for a function that is gone, or that follows the rule after all, is stale.
    signatures = {fn["signature"] for fn in api_functions(kwq8_tx, exposed)}
    assert sorted(set(EXCEPTIONS) - signatures) == []
    unexcused = violations(kwq8_tx, exposed, {})
    assert [s for s in EXCEPTIONS if not any(v.startswith(f"{s}:") for v in unexcused)] == []
    print(f"\n[naming rule] {len(signatures)} API functions, {len(EXCEPTIONS)} listed exceptions")


def test_the_rule_catches_a_wrapper_whose_core_is_named_otherwise(kwq8_tx: TestDatabase, kwq8_project: Project) -> None:
    db, exposed = kwq8_tx, list(kwq8_project.exposed_schemas)
    db.sql(
        """
        set local check_function_bodies = off;
        create function private.naming_probe_core() returns int language sql as $$ select 1 $$;
        create function private.naming_probe() returns int language sql as $$ select 2 $$;
        create function public.naming_probe() returns int language sql
            as $$ select private.naming_probe_core() -- not private.naming_probe()
            $$;
        create function public.naming_probe_twice() returns int language sql
            as $$ select private.naming_probe_twice() + billing.naming_probe_twice() $$;
        create function public.naming_probe_missing() returns int language sql
            as $$ select private.naming_probe_missing() $$;
        create function public.naming_probe_private() returns int language sql as $$ select 3 $$;
        """
    )
    # Not executable by an API role: not an RPC, so not judged.
    assert not [v for v in violations(db, exposed, EXCEPTIONS) if "naming_probe" in v]
    db.sql(
        "grant execute on function public.naming_probe(), public.naming_probe_twice(), "
        "public.naming_probe_missing() to service_role"
    )
    found = [v for v in violations(db, exposed, EXCEPTIONS) if "naming_probe" in v]
    assert found == [
        "naming_probe(): calls 0 functions named naming_probe in other schemas",
        "naming_probe_missing(): calls private.naming_probe_missing, which does not exist",
        "naming_probe_twice(): calls 2 functions named naming_probe_twice in other schemas",
    ]
    # Calling the core of its own name, the wrapper passes; so does a listed exception.
    db.sql(
        "create or replace function public.naming_probe() returns int language sql "
        "as $$ select private.naming_probe() $$"
    )
    found = [v for v in violations(db, exposed, {**EXCEPTIONS, "naming_probe_twice()": "probe"}) if "naming_probe" in v]
    assert found == ["naming_probe_missing(): calls private.naming_probe_missing, which does not exist"]
