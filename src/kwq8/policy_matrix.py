"""What each API role may do, table by table: the RLS policies and the table grants, for review.

Access through the Data API takes both: a grant lets a role reach a table at all (without one
the request fails with 42501 before any policy runs), and the policies then pick the rows. The
two matrices are read side by side by `kwq8 db policies`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row
from rich.table import Table
from rich.text import Text

from kwq8.advisors import catalog_search_path

ROLES: tuple[str, ...] = ("anon", "authenticated", "service_role")
PRIVILEGES: tuple[str, ...] = ("select", "insert", "update", "delete")

_KINDS = {
    "r": "table",
    "p": "partitioned table",
    "v": "view",
    "m": "materialized view",
    "f": "foreign table",
}


@dataclass(frozen=True)
class PolicyRow:
    schema: str
    table: str
    name: str
    permissive: str  # PERMISSIVE or RESTRICTIVE
    command: str  # SELECT, INSERT, UPDATE, DELETE or ALL
    roles: tuple[str, ...]  # ("public",) when the policy applies to every role
    using: str | None
    with_check: str | None

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.table}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["roles"] = list(self.roles)
        return data


@dataclass(frozen=True)
class TableGrants:
    schema: str
    table: str
    kind: str
    rls_enabled: bool
    rls_forced: bool
    policy_count: int
    # role -> privileges held on the whole table
    privileges: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # role -> privileges held on some columns only (column grants; no table grant)
    column_privileges: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.table}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["privileges"] = {role: list(p) for role, p in self.privileges.items()}
        data["column_privileges"] = {role: list(p) for role, p in self.column_privileges.items()}
        return data


# pg_policies already names the command and expands role oids (0 becomes "public").
POLICIES_SQL = """
select
    schemaname::text as schema,
    tablename::text as table,
    policyname::text as name,
    permissive,
    cmd as command,
    roles::text [] as roles,
    qual as using,
    with_check
from pg_policies
where schemaname = any(%(schemas)s::text [])
order by schemaname, tablename, policyname
"""

# One row per relation and role. has_table_privilege counts grants to PUBLIC and inherited
# roles, as a request would. Column grants (e.g. update (title)) give no table privilege, so they
# are reported apart: has_any_column_privilege is also true for a table grant.
GRANTS_SQL = """
select
    n.nspname::text as schema,
    c.relname::text as table,
    c.relkind::text as kind,
    c.relrowsecurity as rls_enabled,
    c.relforcerowsecurity as rls_forced,
    (select count(*) from pg_policy as p where p.polrelid = c.oid)::int as policy_count,
    r.rolname::text as role,
    array(
        select priv from unnest(%(privileges)s::text []) with ordinality as x (priv, pos)
        where has_table_privilege(r.oid, c.oid, priv)
        order by pos
    ) as privileges,
    array(
        select priv from unnest(%(privileges)s::text []) with ordinality as x (priv, pos)
        where
            priv <> 'delete'
            and not has_table_privilege(r.oid, c.oid, priv)
            and has_any_column_privilege(r.oid, c.oid, priv)
        order by pos
    ) as column_privileges
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
inner join pg_roles as r on r.rolname = any(%(roles)s::name [])
where
    c.relkind in ('r', 'p', 'v', 'm', 'f')
    and n.nspname = any(%(schemas)s::text [])
order by n.nspname, c.relname, array_position(%(roles)s::name [], r.rolname)
"""


def policy_rows(conn: psycopg.Connection[Any], schemas: Sequence[str]) -> list[PolicyRow]:
    """Every RLS policy on relations in `schemas`, with schema-qualified expressions."""
    with catalog_search_path(conn), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(POLICIES_SQL, {"schemas": list(schemas)})
        return [
            PolicyRow(
                schema=row["schema"],
                table=row["table"],
                name=row["name"],
                permissive=row["permissive"],
                command=row["command"],
                roles=tuple(row["roles"]),
                using=row["using"],
                with_check=row["with_check"],
            )
            for row in cur.fetchall()
        ]


def table_grants(
    conn: psycopg.Connection[Any],
    schemas: Sequence[str],
    roles: Sequence[str] = ROLES,
) -> list[TableGrants]:
    """For each table, view and foreign table in `schemas`: RLS state and what each role may do."""
    with catalog_search_path(conn), conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            GRANTS_SQL,
            {"schemas": list(schemas), "roles": list(roles), "privileges": list(PRIVILEGES)},
        )
        rows = cur.fetchall()
    grants: dict[tuple[str, str], TableGrants] = {}
    for row in rows:
        key = (row["schema"], row["table"])
        if key not in grants:
            grants[key] = TableGrants(
                schema=row["schema"],
                table=row["table"],
                kind=_KINDS.get(row["kind"]) or str(row["kind"]),
                rls_enabled=row["rls_enabled"],
                rls_forced=row["rls_forced"],
                policy_count=row["policy_count"],
            )
        grants[key].privileges[row["role"]] = tuple(row["privileges"])
        grants[key].column_privileges[row["role"]] = tuple(row["column_privileges"])
    return list(grants.values())


# --------------------------------------------------------------------------- rendering


LEGEND = (
    "legend: SIUD = select, insert, update, delete granted on the whole table; lower case = on some "
    "columns only; - = not granted. rls: on, forced (the owner too), off, n/a (views). "
    "type: permissive policies are OR-ed, restrictive ones AND-ed with them."
)


def grant_code(grants: TableGrants, role: str) -> str:
    """`SIUD` for select/insert/update/delete on the table, `-` when missing, lower case when
    granted on some columns only: `S-u-` is select on the table and update of some columns."""
    held = grants.privileges.get(role, ())
    partial = grants.column_privileges.get(role, ())
    letters = []
    for privilege in PRIVILEGES:
        letter = privilege[0].upper()
        if privilege in held:
            letters.append(letter)
        elif privilege in partial:
            letters.append(letter.lower())
        else:
            letters.append("-")
    return "".join(letters)


def rls_state(grants: TableGrants) -> str:
    if grants.kind not in ("table", "partitioned table"):
        return "n/a"
    if not grants.rls_enabled:
        return "off"
    return "forced" if grants.rls_forced else "on"


def policy_table(rows: Iterable[PolicyRow]) -> Table:
    table = Table("table", "policy", "type", "command", "roles", "using", "with check")
    for r in rows:
        table.add_row(
            Text(r.relation),
            Text(r.name),
            Text(r.permissive.lower()),
            Text(r.command),
            Text(", ".join(r.roles)),
            Text(r.using or ""),
            Text(r.with_check or ""),
        )
    return table


def grant_table(grants: Iterable[TableGrants], roles: Sequence[str] = ROLES) -> Table:
    table = Table(
        "relation",
        "kind",
        "rls",
        "policies",
        *roles,
        caption="S I U D = select insert update delete; lower case: some columns only",
    )
    for g in grants:
        table.add_row(
            Text(g.relation),
            g.kind,
            rls_state(g),
            str(g.policy_count),
            *(grant_code(g, role) for role in roles),
        )
    return table


def policy_lines(rows: Iterable[PolicyRow]) -> list[str]:
    """Plain lines for pipes: one policy per line."""
    lines = []
    for r in rows:
        line = f"{r.relation} {r.name!r} {r.permissive.lower()} {r.command} to {', '.join(r.roles)}"
        if r.using is not None:
            line += f" using ({r.using})"
        if r.with_check is not None:
            line += f" with check ({r.with_check})"
        lines.append(line)
    return lines


def grant_lines(grants: Iterable[TableGrants], roles: Sequence[str] = ROLES) -> list[str]:
    return [
        f"{g.relation} {g.kind} rls={rls_state(g)} policies={g.policy_count} "
        + " ".join(f"{role}={grant_code(g, role)}" for role in roles)
        for g in grants
    ]
