"""What the contract is generated from: the exposed schema of a migrated database."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import psycopg

API_ROLES = ("anon", "authenticated", "service_role")


@dataclass(frozen=True)
class PgType:
    oid: int
    schema: str
    name: str
    kind: str  # b base, c composite, e enum, d domain, p pseudo
    element: int  # array element type oid, 0 otherwise
    base: int  # a domain's base type
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Column:
    name: str
    type: int
    not_null: bool
    has_default: bool
    generated: bool


@dataclass(frozen=True)
class Check:
    name: str
    columns: tuple[str, ...]
    expression: str
    code: str | None


@dataclass
class Relation:
    name: str
    kind: str  # r table, v view
    columns: list[Column] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    normalized: set[str] = field(default_factory=set)  # columns a before trigger rewrites
    writers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # privilege -> API roles


@dataclass(frozen=True)
class Argument:
    name: str
    type: int
    has_default: bool


@dataclass(frozen=True)
class Function:
    name: str
    arguments: tuple[Argument, ...]
    returns: int
    returns_set: bool
    volatile: bool
    roles: tuple[str, ...]
    comment: str | None
    source_file: str | None = None
    # As PostgreSQL prints them (pg_get_function_arguments / _result): defaults and TABLE columns included.
    arguments_sql: str = ""
    result_sql: str = ""


@dataclass(frozen=True)
class ErrorCode:
    code: str
    http_status: int
    message_ar: str
    message_en: str


@dataclass
class Catalog:
    types: dict[int, PgType]
    composites: dict[str, list[tuple[str, int]]]  # public composite types (not tables), in order
    relations: dict[str, Relation]
    functions: list[Function]
    codes: list[ErrorCode]
    constraint_codes: dict[str, str]  # constraint name -> code

    def type(self, oid: int) -> PgType:
        return self.types[oid]

    def type_name(self, oid: int) -> str:
        t = self.type(oid)
        if t.element:
            return self.type_name(t.element) + "[]"
        return t.name

    def result(self, fn: Function) -> str:
        """A function's result for the docs: a composite with its fields, `setof` for sets."""
        result = self.type_name(fn.returns)
        t = self.type(fn.returns)
        if t.name == "record" and fn.result_sql.startswith("TABLE("):
            # RETURNS TABLE: its columns, which the record type does not name.
            columns = fn.result_sql[len("TABLE(") : -1]
            return (
                "setof {" + ", ".join(f"`{c.split(' ', 1)[0]}` {c.split(' ', 1)[1]}" for c in columns.split(", ")) + "}"
            )
        if t.kind == "c" and t.name in self.composites:
            fields = ", ".join(f"`{n}` {self.type_name(o)}" for n, o in self.composites[t.name])
            result = f"`{t.name}` {{{fields}}}"
        return f"setof {result}" if fn.returns_set else result

    @property
    def rpcs(self) -> list[Function]:
        """The functions an API role may call: the Data API's RPCs."""
        return [fn for fn in self.functions if fn.roles]


def read(conn: psycopg.Connection[Any], schema: str = "public") -> Catalog:
    types: dict[int, PgType] = {}
    for oid, nsp, name, kind, elem, base, labels in conn.execute(
        """
        select t.oid::int, n.nspname, t.typname, t.typtype, t.typelem::int, t.typbasetype::int,
               array(select e.enumlabel from pg_enum e where e.enumtypid = t.oid order by e.enumsortorder)
        from pg_type t join pg_namespace n on n.oid = t.typnamespace
        """
    ).fetchall():
        types[oid] = PgType(oid, nsp, name, kind, elem if name.startswith("_") else 0, base, tuple(labels))

    composites: dict[str, list[tuple[str, int]]] = {}
    for name, attname, atttypid in conn.execute(
        """
        select t.typname, a.attname, a.atttypid::int
        from pg_type t join pg_namespace n on n.oid = t.typnamespace
        join pg_class c on c.oid = t.typrelid and c.relkind = 'c'
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = %s and t.typtype = 'c'
        order by t.typname, a.attnum
        """,
        (schema,),
    ).fetchall():
        composites.setdefault(name, []).append((attname, atttypid))

    relations: dict[str, Relation] = {}
    for relname, relkind, attname, atttypid, notnull, hasdef, generated in conn.execute(
        """
        select c.relname, c.relkind, a.attname, a.atttypid::int, a.attnotnull,
               a.atthasdef or a.attidentity <> '', a.attgenerated <> ''
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where n.nspname = %s and c.relkind in ('r', 'v', 'p')
        order by c.relname, a.attnum
        """,
        (schema,),
    ).fetchall():
        rel = relations.setdefault(relname, Relation(relname, "v" if relkind == "v" else "r"))
        rel.columns.append(Column(attname, atttypid, notnull, hasdef, generated))

    mapping = dict(
        conn.execute("select constraint_name, code from private.constraint_error_codes order by 1").fetchall()
    )
    for relname, conname, columns, expression in conn.execute(
        """
        select c.relname, k.conname,
               array(select a.attname from pg_attribute a where a.attrelid = k.conrelid and a.attnum = any(k.conkey)
                     order by a.attnum),
               pg_get_expr(k.conbin, k.conrelid)
        from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = %s and k.contype = 'c'
        order by c.relname, k.conname
        """,
        (schema,),
    ).fetchall():
        relations[relname].checks.append(Check(conname, tuple(columns), expression, mapping.get(conname)))

    # Columns a BEFORE trigger assigns (trimming, phone normalisation): what the browser sends
    # there is not what the checks see, so inputs are not held to those checks.
    for relname, source in conn.execute(
        """
        select c.relname, p.prosrc
        from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
        join pg_proc p on p.oid = t.tgfoid
        where n.nspname = %s and not t.tgisinternal and (t.tgtype & 2) = 2
        """,
        (schema,),
    ).fetchall():
        relations[relname].normalized.update(m.lower() for m in re.findall(r"\bnew\.(\w+)\s*:=", source, re.I))

    for relname, privilege, roles in conn.execute(
        """
        select c.relname, p.privilege, array(
            select r from unnest(%s::text[]) r
            where case when p.privilege = 'DELETE' then has_table_privilege(r, c.oid, p.privilege)
                  else has_any_column_privilege(r, c.oid, p.privilege) end)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace,
        unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE']) as p (privilege)
        where n.nspname = %s and c.relkind in ('r', 'v', 'p')
        """,
        (list(API_ROLES), schema),
    ).fetchall():
        relations[relname].writers[privilege] = tuple(roles)

    functions: list[Function] = []
    for (
        name,
        argnames,
        argmodes,
        argtypes,
        nargs,
        ndefaults,
        rettype,
        retset,
        volatility,
        roles,
        comment,
        arguments_sql,
        result_sql,
    ) in conn.execute(
        """
            select p.proname, p.proargnames, p.proargmodes::text[],
                   coalesce(p.proallargtypes, p.proargtypes::oid[])::int[], p.pronargs, p.pronargdefaults,
                   p.prorettype::int, p.proretset, p.provolatile,
                   array(select r from unnest(%s::text[]) r where has_function_privilege(r, p.oid, 'execute')),
                   obj_description(p.oid, 'pg_proc'),
                   pg_get_function_arguments(p.oid), pg_get_function_result(p.oid)
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = %s and p.prokind = 'f' and p.prorettype <> 'trigger'::regtype
            order by p.proname, p.oid
            """,
        (list(API_ROLES), schema),
    ).fetchall():
        modes = argmodes or ["i"] * len(argtypes)
        inputs = [(n, t) for n, t, m in zip(argnames or [], argtypes, modes, strict=False) if m in ("i", "b", "v")]
        first_default = nargs - ndefaults
        args = tuple(Argument(n, t, i >= first_default) for i, (n, t) in enumerate(inputs))
        functions.append(
            Function(
                name,
                args,
                rettype,
                retset,
                volatility == "v",
                tuple(roles),
                comment,
                arguments_sql=arguments_sql,
                result_sql=result_sql,
            )
        )

    codes = [
        ErrorCode(*row)
        for row in conn.execute(
            "select code, http_status, message_ar, message_en from public.error_codes order by code"
        ).fetchall()
    ]
    return Catalog(types, composites, relations, functions, codes, mapping)
