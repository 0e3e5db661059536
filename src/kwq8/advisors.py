"""Database advisors: the checks of Supabase's database linter (splinter), as catalog queries.

Each lint is one read-only SQL query over the system catalogs that returns one row per offending
object, with two columns: `object` (e.g. `public.projects`, `public.fn(integer)`) and `detail`.
Names, levels and categories follow splinter, so a finding here means the same as the finding
Supabase Studio's Security and Performance Advisors would show on the hosted project. The queries
are written for this project from what each lint is documented to detect, not copied from
splinter. Lints that depend on runtime statistics or platform settings (unused_index,
table_bloat, auth_allow_anonymous_sign_ins, extension_versions_outdated) and those for services
this stack does not run (pgmq queues, pg_graphql, storage buckets) are not included.

Every query takes the same named parameters:
  exposed_schemas  schemas the Data API serves (supabase/config.toml `[api] schemas`)
  system_schemas   schemas owned by Supabase or the toolkit, which user lints skip
  api_roles        the browser-facing roles that exist in the database (anon, authenticated)
  role             for per-role lints, the role checked
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from rich.table import Table
from rich.text import Text

Level = Literal["ERROR", "WARN", "INFO"]
Category = Literal["SECURITY", "PERFORMANCE"]

LEVELS: tuple[Level, ...] = ("INFO", "WARN", "ERROR")
SECURITY: tuple[Category, ...] = ("SECURITY",)
PERFORMANCE: tuple[Category, ...] = ("PERFORMANCE",)

# Schemas whose objects belong to Supabase services, extensions or this toolkit, not to the
# application: the user-object lints skip them (pg_toast, pg_temp_N and the like are skipped by
# the `^pg_` pattern in each query). Exposed-schema lints use the exposed list as given.
SYSTEM_SCHEMAS: tuple[str, ...] = (
    "auth",
    "cron",
    "extensions",
    "graphql",
    "graphql_public",
    "information_schema",
    "kwq8_meta",
    "kwq8_shim",
    "net",
    "pgbouncer",
    "pgmq",
    "pgsodium",
    "pgsodium_masks",
    "pgtle",
    "realtime",
    "repack",
    "storage",
    "supabase_functions",
    "supabase_migrations",
    "vault",
)

# The roles a browser request runs as. service_role bypasses RLS by design and is not checked.
API_ROLES: tuple[str, ...] = ("anon", "authenticated")

DOCS_URL = "https://supabase.com/docs/guides/database/database-linter?lint={}"


@dataclass(frozen=True)
class Finding:
    name: str
    title: str
    level: Level
    categories: tuple[Category, ...]
    object: str
    detail: str
    remediation: str
    docs_url: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["categories"] = list(self.categories)
        return data

    def render(self) -> str:
        """One plain line: `LEVEL name object: detail`."""
        return f"{self.level} {self.name} {self.object}: {self.detail}"


@dataclass(frozen=True)
class Lint:
    name: str
    doc: str  # splinter's numbered doc page, for the Supabase docs link
    title: str
    level: Level
    categories: tuple[Category, ...]
    remediation: str
    sql: str
    params: Mapping[str, str] = field(default_factory=dict)
    # This project's own lints document themselves in the repository, not in splinter.
    docs: str | None = None

    def finding(self, obj: str, detail: str) -> Finding:
        return Finding(
            name=self.name,
            title=self.title,
            level=self.level,
            categories=self.categories,
            object=obj,
            detail=detail,
            remediation=self.remediation,
            docs_url=self.docs or DOCS_URL.format(self.doc),
        )


# --------------------------------------------------------------------------- row level security

# Stricter than splinter, which also requires a grant to anon or authenticated: this project
# grants explicitly (auto_expose_new_tables = false), so a table without RLS is one grant away
# from being open. The detail says which API roles can reach it today.
RLS_DISABLED_IN_PUBLIC = """
select
    c.oid::regclass::text as object,
    'RLS is disabled, so any role granted access reads and writes every row through the Data API'
    || ' (granted now to: '
    || coalesce(
        nullif(array_to_string(array(
            select r from unnest(%(api_roles)s::name []) as r
            where has_table_privilege(r, c.oid, 'select, insert, update, delete')
        ), ', '), ''),
        'no API role'
    )
    || ')' as detail
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
where
    c.relkind in ('r', 'p')
    and not c.relrowsecurity
    and n.nspname = any(%(exposed_schemas)s::text [])
order by 1
"""

POLICY_EXISTS_RLS_DISABLED = """
select
    c.oid::regclass::text as object,
    case when count(*) = 1 then 'policy ' else 'policies ' end
    || string_agg(quote_ident(p.polname), ', ' order by p.polname)
    || case when count(*) = 1 then ' exists' else ' exist' end
    || ' but RLS is disabled, so no policy is applied' as detail
from pg_policy as p
inner join pg_class as c on c.oid = p.polrelid
inner join pg_namespace as n on n.oid = c.relnamespace
where
    not c.relrowsecurity
    and n.nspname <> all(%(system_schemas)s::text [])
    and n.nspname !~ '^pg_'
group by c.oid
order by 1
"""

RLS_ENABLED_NO_POLICY = """
select
    c.oid::regclass::text as object,
    'RLS is enabled but there is no policy: API roles can neither read nor write any row' as detail
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
where
    c.relkind in ('r', 'p')
    and c.relrowsecurity
    and n.nspname <> all(%(system_schemas)s::text [])
    and n.nspname !~ '^pg_'
    and not exists (select from pg_policy as p where p.polrelid = c.oid)
order by 1
"""

# pg_get_expr prints a wrapped call as `( SELECT auth.uid() AS uid)`: a sub-select Postgres runs
# once per statement as an initPlan. A call anywhere else is evaluated again for every row. A
# clause is flagged when it holds more calls than wrapped calls, so one wrapped call does not
# hide an unwrapped one next to it. The lookbehind keeps `my.current_setting(` from matching.
AUTH_RLS_INITPLAN = r"""
with clause as (
    select
        p.polrelid,
        p.polname,
        e.kind,
        e.expr
    from pg_policy as p
    inner join pg_class as c on c.oid = p.polrelid
    inner join pg_namespace as n on n.oid = c.relnamespace
    cross join lateral (
        values
        ('using', pg_get_expr(p.polqual, p.polrelid)),
        ('with check', pg_get_expr(p.polwithcheck, p.polrelid))
    ) as e (kind, expr)
    where
        e.expr is not null
        and n.nspname <> all(%(system_schemas)s::text [])
        and n.nspname !~ '^pg_'
),

counted as (
    select
        polrelid,
        polname,
        kind,
        regexp_count(
            expr, '(?<![[:alnum:]_.])(auth\.(uid|jwt|role|email)|current_setting)\('
        ) as calls,
        regexp_count(
            expr, 'SELECT\s+\(*\s*(auth\.(uid|jwt|role|email)|current_setting)\('
        ) as wrapped_calls,
        array(
            select distinct m[1] || '()'
            from regexp_matches(
                expr, '(?<![[:alnum:]_.])(auth\.(?:uid|jwt|role|email)|current_setting)\(', 'g'
            ) as m
            order by 1
        ) as functions
    from clause
)

select
    polrelid::regclass::text as object,
    'policy ' || quote_ident(polname) || ' (' || kind || ') evaluates '
    || array_to_string(functions, ', ') || ' for every row; wrap each call as (select ...)'
    as detail
from counted
where calls > wrapped_calls
order by 1, 2
"""

# Permissive policies are OR-ed, and Postgres evaluates every one that applies to the role and
# action for each row. A policy for PUBLIC applies to every role, and `for all` to every action,
# so both are expanded before counting. Roles that bypass RLS never run policies: skipped.
MULTIPLE_PERMISSIVE_POLICIES = """
with policy as (
    select
        p.polrelid,
        p.polname,
        p.polroles,
        p.polcmd
    from pg_policy as p
    inner join pg_class as c on c.oid = p.polrelid
    inner join pg_namespace as n on n.oid = c.relnamespace
    where
        p.polpermissive
        and n.nspname <> all(%(system_schemas)s::text [])
        and n.nspname !~ '^pg_'
),

-- The roles worth checking per table: the API roles, and every role a policy on it names.
candidate_role as (
    select
        policy.polrelid,
        named.role_oid
    from policy
    cross join lateral unnest(policy.polroles) as named (role_oid)
    where named.role_oid <> 0
    union
    select
        policy.polrelid,
        r.oid
    from policy
    inner join pg_roles as r on r.rolname = any(%(api_roles)s::name [])
),

applies as (
    select
        policy.polrelid,
        cr.role_oid,
        action.name as action,
        policy.polname
    from policy
    inner join candidate_role as cr
        on
            cr.polrelid = policy.polrelid
            and (cr.role_oid = any(policy.polroles) or 0::oid = any(policy.polroles))
    inner join (
        values ('r', 'select'), ('a', 'insert'), ('w', 'update'), ('d', 'delete')
    ) as action (cmd, name) on policy.polcmd in (action.cmd, '*')
)

select
    applies.polrelid::regclass::text as object,
    'role ' || r.rolname || ', ' || applies.action || ': permissive policies '
    || string_agg(quote_ident(applies.polname), ', ' order by applies.polname)
    || ' are all evaluated for every row; merge them into one' as detail
from applies
inner join pg_roles as r on r.oid = applies.role_oid
where not (r.rolbypassrls or r.rolsuper)
group by applies.polrelid, r.rolname, applies.action
having count(*) > 1
order by 1, 2
"""

# Only write commands matter: `for select using (true)` is how public read access is written.
RLS_POLICY_ALWAYS_TRUE = """
select
    c.oid::regclass::text as object,
    'policy ' || quote_ident(p.polname) || ' ('
    || case p.polcmd
        when 'a' then 'insert' when 'w' then 'update' when 'd' then 'delete' else 'all'
    end
    || ') for '
    || case
        when 0::oid = any(p.polroles) then 'public'
        else array_to_string(array(
            select pg_get_userbyid(role_oid) from unnest(p.polroles) as role_oid order by 1
        ), ', ')
    end
    || ' does not restrict writes: '
    || concat_ws(
        ' and ',
        case when pg_get_expr(p.polqual, p.polrelid) = 'true' then 'using (true)' end,
        case when pg_get_expr(p.polwithcheck, p.polrelid) = 'true' then 'with check (true)' end
    ) as detail
from pg_policy as p
inner join pg_class as c on c.oid = p.polrelid
inner join pg_namespace as n on n.oid = c.relnamespace
where
    p.polpermissive
    and p.polcmd in ('a', 'w', 'd', '*')
    and n.nspname = any(%(exposed_schemas)s::text [])
    and (
        0::oid = any(p.polroles)
        or exists (
            select from pg_roles as r
            where r.oid = any(p.polroles) and r.rolname = any(%(api_roles)s::name [])
        )
    )
    and (
        pg_get_expr(p.polqual, p.polrelid) = 'true'
        or pg_get_expr(p.polwithcheck, p.polrelid) = 'true'
    )
order by 1, 2
"""

# user_metadata (raw_user_meta_data in auth.users) is editable by the signed-in user, so a policy
# deciding access from it lets users grant themselves access.
RLS_REFERENCES_USER_METADATA = r"""
select
    c.oid::regclass::text as object,
    'policy ' || quote_ident(p.polname)
    || ' decides access from user metadata, which every user can edit' as detail
from pg_policy as p
inner join pg_class as c on c.oid = p.polrelid
inner join pg_namespace as n on n.oid = c.relnamespace
cross join lateral (
    select
        concat_ws(
            ' ', pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
        ) as expr
) as e
where
    n.nspname <> all(%(system_schemas)s::text [])
    and n.nspname !~ '^pg_'
    and (
        (e.expr ~ 'auth\.jwt\(\)' and e.expr ~ 'user_metadata')
        or e.expr ~ 'raw_user_meta_data'
    )
order by 1, 2
"""

# --------------------------------------------------------------------------- exposure

# A view runs with its owner's rights unless created `with (security_invoker = true)`; the owner
# (postgres) bypasses RLS, so such a view in an exposed schema leaks every row of what it reads.
# reloptions keep the value as written, so every spelling Postgres accepts as true counts.
SECURITY_DEFINER_VIEW = """
select
    c.oid::regclass::text as object,
    'view runs with the rights of its owner ' || pg_get_userbyid(c.relowner)
    || ', not the caller, so RLS on the tables it reads does not apply' as detail
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
where
    c.relkind = 'v'
    and n.nspname = any(%(exposed_schemas)s::text [])
    and not exists (
        select from unnest(c.reloptions) as opt
        where opt ~* '^security_invoker=(t|tr|tru|true|y|ye|yes|on|1)$'
    )
    and not exists (
        select from pg_depend as d
        where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
    )
order by 1
"""

# A view's query is its rewrite rule, which depends on every relation it reads. Following those
# dependencies through views finds views that reach auth.users via another (private) view.
AUTH_USERS_EXPOSED = """
with recursive reads_auth_users (view_oid) as (
    select r.ev_class
    from pg_rewrite as r
    inner join pg_depend as d
        on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
    where
        d.refclassid = 'pg_class'::regclass
        and d.refobjid = to_regclass('auth.users')
    union
    select r.ev_class
    from pg_rewrite as r
    inner join pg_depend as d
        on d.classid = 'pg_rewrite'::regclass and d.objid = r.oid
    inner join reads_auth_users as a on d.refobjid = a.view_oid
    where d.refclassid = 'pg_class'::regclass
)

select
    c.oid::regclass::text as object,
    case c.relkind when 'm' then 'materialized view' else 'view' end
    || ' reads auth.users and is selectable by '
    || array_to_string(array(
        select r from unnest(%(api_roles)s::name []) as r
        where has_table_privilege(r, c.oid, 'select')
    ), ', ')
    || ': user emails and metadata are readable through the Data API' as detail
from reads_auth_users as a
inner join pg_class as c on c.oid = a.view_oid
inner join pg_namespace as n on n.oid = c.relnamespace
where
    c.relkind in ('v', 'm')
    and n.nspname = any(%(exposed_schemas)s::text [])
    and exists (
        select from unnest(%(api_roles)s::name []) as r
        where has_table_privilege(r, c.oid, 'select')
    )
order by 1
"""


def _api_selectable(relkind: str, noun: str) -> str:
    """Relations of one kind in an exposed schema that an API role may select (RLS cannot apply)."""
    return f"""
select
    c.oid::regclass::text as object,
    '{noun} is selectable by '
    || array_to_string(array(
        select r from unnest(%(api_roles)s::name []) as r
        where has_table_privilege(r, c.oid, 'select')
    ), ', ')
    || ' through the Data API, and RLS cannot apply to it' as detail
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
where
    c.relkind = '{relkind}'
    and n.nspname = any(%(exposed_schemas)s::text [])
    and exists (
        select from unnest(%(api_roles)s::name []) as r
        where has_table_privilege(r, c.oid, 'select')
    )
order by 1
"""


MATERIALIZED_VIEW_IN_API = _api_selectable("m", "materialized view")
FOREIGN_TABLE_IN_API = _api_selectable("f", "foreign table")

# One query for both per-role lints; %(role)s is anon or authenticated. has_function_privilege
# counts grants to PUBLIC and through role membership, as a real call would.
SECURITY_DEFINER_FUNCTION_EXECUTABLE = """
select
    p.oid::regprocedure::text as object,
    'security definer function runs as ' || pg_get_userbyid(p.proowner) || ' and '
    || %(role)s::text || ' can call it through /rest/v1/rpc' as detail
from pg_proc as p
inner join pg_namespace as n on n.oid = p.pronamespace
where
    p.prosecdef
    and n.nspname = any(%(exposed_schemas)s::text [])
    and has_function_privilege(%(role)s::name, p.oid, 'execute')
    and not exists (
        select from pg_depend as d
        where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
    )
order by 1
"""

EXTENSION_IN_PUBLIC = """
select
    e.extname::text as object,
    'extension ' || e.extname || ' is installed in schema public, '
    || 'so its functions and tables sit in the Data API' as detail
from pg_extension as e
inner join pg_namespace as n on n.oid = e.extnamespace
where n.nspname = 'public'
order by 1
"""

# --------------------------------------------------------------------------- functions

# Without a pinned search_path a function resolves names through the caller's search_path, which
# the caller controls; for SECURITY DEFINER functions that is a privilege escalation. Extension
# functions are the extension's business and are skipped.
FUNCTION_SEARCH_PATH_MUTABLE = """
select
    p.oid::regprocedure::text as object,
    case when p.prosecdef then 'security definer ' else '' end
    || case p.prokind when 'p' then 'procedure' else 'function' end
    || ' has no search_path setting, so it resolves names through the caller''s search_path'
    as detail
from pg_proc as p
inner join pg_namespace as n on n.oid = p.pronamespace
where
    p.prokind in ('f', 'p')
    and n.nspname <> all(%(system_schemas)s::text [])
    and n.nspname !~ '^pg_'
    and not exists (
        select from unnest(p.proconfig) as cfg
        where starts_with(cfg, 'search_path=')
    )
    and not exists (
        select from pg_depend as d
        where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
    )
order by 1
"""

# --------------------------------------------------------------------------- keys and indexes

# Referencing auth.users(id) is the supported link to Supabase Auth. Any other auth column or
# table (even one with a unique constraint) may be changed or dropped by Auth's own migrations.
FKEY_TO_AUTH_UNIQUE = """
select
    con.conrelid::regclass::text as object,
    'foreign key ' || quote_ident(con.conname) || ' references '
    || con.confrelid::regclass::text || ' ('
    || array_to_string(array(
        select a.attname
        from unnest(con.confkey) with ordinality as k (attnum, pos)
        inner join pg_attribute as a on a.attrelid = con.confrelid and a.attnum = k.attnum
        order by k.pos
    ), ', ')
    || '), which Supabase Auth owns and may change; reference auth.users (id) only' as detail
from pg_constraint as con
inner join pg_class as c on c.oid = con.conrelid
inner join pg_namespace as n on n.oid = c.relnamespace
inner join pg_class as rc on rc.oid = con.confrelid
inner join pg_namespace as rn on rn.oid = rc.relnamespace
where
    con.contype = 'f'
    and con.conparentid = 0
    and rn.nspname = 'auth'
    and n.nspname <> all(%(system_schemas)s::text [])
    and n.nspname !~ '^pg_'
    and not (
        con.confrelid = to_regclass('auth.users')
        and con.confkey = array[(
            select a.attnum from pg_attribute as a
            where a.attrelid = con.confrelid and a.attname = 'id'
        )]
    )
order by 1, 2
"""

# An index covers a foreign key when the key's columns are its leading key columns, in any
# order. Partial indexes do not count: deleting a referenced row must find every referencing
# row, not only those inside the predicate. Constraints cloned onto partitions are skipped.
UNINDEXED_FOREIGN_KEYS = """
select
    con.conrelid::regclass::text as object,
    'foreign key ' || quote_ident(con.conname) || ' ('
    || array_to_string(array(
        select a.attname
        from unnest(con.conkey) with ordinality as k (attnum, pos)
        inner join pg_attribute as a on a.attrelid = con.conrelid and a.attnum = k.attnum
        order by k.pos
    ), ', ')
    || ') has no index starting with its columns; joins and deletes on '
    || con.confrelid::regclass::text || ' scan the table' as detail
from pg_constraint as con
inner join pg_class as c on c.oid = con.conrelid
inner join pg_namespace as n on n.oid = c.relnamespace
where
    con.contype = 'f'
    and con.conparentid = 0
    and n.nspname <> all(%(system_schemas)s::text [])
    and n.nspname !~ '^pg_'
    and not exists (
        select from pg_depend as d
        where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
    )
    and not exists (
        select from pg_index as i
        where
            i.indrelid = con.conrelid
            and i.indisvalid
            and i.indpred is null
            and i.indnkeyatts >= cardinality(con.conkey)
            and (
                select array_agg(k.attnum order by k.attnum)
                from unnest(i.indkey::int2 []) with ordinality as k (attnum, pos)
                where k.pos <= cardinality(con.conkey)
            ) = (
                select array_agg(k.attnum order by k.attnum)
                from unnest(con.conkey) as k (attnum)
            )
    )
order by 1, 2
"""

# Partitions are skipped: their keys come from the partitioned table.
NO_PRIMARY_KEY = """
select
    c.oid::regclass::text as object,
    'table has no primary key: rows cannot be addressed reliably and logical replication '
    || 'cannot apply updates or deletes' as detail
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
where
    c.relkind in ('r', 'p')
    and not c.relispartition
    and n.nspname <> all(%(system_schemas)s::text [])
    and n.nspname !~ '^pg_'
    and not exists (
        select from pg_constraint as k
        where k.conrelid = c.oid and k.contype = 'p'
    )
    and not exists (
        select from pg_depend as d
        where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
    )
order by 1
"""

# Identical means same access method, key and included columns, operator classes, collations,
# sort options, expressions and predicate. Uniqueness is ignored on purpose: a plain index that
# repeats a unique one is as redundant. The vector columns are compared as text because
# int2vector has no ordering operator for group by.
DUPLICATE_INDEX = """
select
    c.oid::regclass::text as object,
    'indexes ' || string_agg(quote_ident(ic.relname), ', ' order by ic.relname)
    || ' are identical; every write maintains each of them' as detail
from pg_index as i
inner join pg_class as ic on ic.oid = i.indexrelid
inner join pg_class as c on c.oid = i.indrelid
inner join pg_namespace as n on n.oid = c.relnamespace
where
    n.nspname <> all(%(system_schemas)s::text [])
    and n.nspname !~ '^pg_'
    and not exists (
        select from pg_depend as d
        where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e'
    )
group by
    c.oid,
    ic.relam,
    i.indkey::text,
    i.indnkeyatts,
    i.indclass::text,
    i.indcollation::text,
    i.indoption::text,
    pg_get_expr(i.indexprs, i.indrelid),
    pg_get_expr(i.indpred, i.indrelid)
having count(*) > 1
order by 1, 2
"""

# pg_upgrade cannot carry these types over: they store OIDs of objects that get new OIDs.
# (regclass, regrole and regtype are allowed.)
UNSUPPORTED_REG_TYPES = """
select
    c.oid::regclass::text as object,
    'column ' || quote_ident(a.attname) || ' has type ' || format_type(a.atttypid, null)
    || ', which blocks upgrading Postgres with pg_upgrade' as detail
from pg_attribute as a
inner join pg_class as c on c.oid = a.attrelid
inner join pg_namespace as n on n.oid = c.relnamespace
where
    c.relkind in ('r', 'p', 'm')
    and a.attnum > 0
    and not a.attisdropped
    and format_type(a.atttypid, null) in (
        'regcollation', 'regconfig', 'regdictionary', 'regnamespace',
        'regoper', 'regoperator', 'regproc', 'regprocedure'
    )
    and n.nspname <> all(%(system_schemas)s::text [])
    and n.nspname !~ '^pg_'
order by 1, 2
"""

# The Data API write limiter is PostgREST's db-pre-request function for this database (set by
# migration 0011). Missing or pointing elsewhere, nothing limits Data API writes. PostgREST's
# rule: the authenticator's setting for this database wins over its setting for every database.
# Checked only where the limiter exists, so a database of another project is not flagged.
DATA_API_LIMITER = """
select
    'role authenticator' as object,
    case
        when setting.value is null
            then 'pgrst.db_pre_request is not set: Data API writes are not limited'
        else 'pgrst.db_pre_request is ' || setting.value
            || ', not payments.check_request: Data API writes are not limited'
    end as detail
from (
    select (
        select substr(c.config, strpos(c.config, '=') + 1)
        from pg_db_role_setting as s
        cross join lateral unnest(s.setconfig) as c (config)
        where
            s.setrole = (select r.oid from pg_roles as r where r.rolname = 'authenticator')
            and s.setdatabase in (0, (select d.oid from pg_database as d where d.datname = current_database()))
            and c.config like 'pgrst.db_pre_request=%%'
        order by s.setdatabase desc
        limit 1
    ) as value
) as setting
where
    to_regprocedure('payments.check_request()') is not null
    and setting.value is distinct from 'payments.check_request'
"""

# --------------------------------------------------------------------------- the list

LIMITER_LINT = Lint(
    name="data_api_limiter_missing",
    doc="",
    title="Data API write limiter not configured",
    level="ERROR",
    categories=SECURITY,
    remediation=(
        "alter role authenticator in database <this database> set pgrst.db_pre_request = "
        "'payments.check_request'; notify pgrst, 'reload config' (or run `kwq8 db migrate`)."
    ),
    sql=DATA_API_LIMITER,
    docs="docs/data-api-limits.md",
)

LINTS: tuple[Lint, ...] = (
    Lint(
        name="unindexed_foreign_keys",
        doc="0001_unindexed_foreign_keys",
        title="Unindexed foreign keys",
        level="INFO",
        categories=PERFORMANCE,
        remediation="Create an index whose leading columns are the foreign key's columns.",
        sql=UNINDEXED_FOREIGN_KEYS,
    ),
    Lint(
        name="auth_users_exposed",
        doc="0002_auth_users_exposed",
        title="Exposed auth users",
        level="ERROR",
        categories=SECURITY,
        remediation=(
            "Move the view out of the exposed schemas or revoke select on it from anon and "
            "authenticated; expose a table of public profile fields instead."
        ),
        sql=AUTH_USERS_EXPOSED,
    ),
    Lint(
        name="auth_rls_initplan",
        doc="0003_auth_rls_initplan",
        title="Auth RLS initialization plan",
        level="WARN",
        categories=PERFORMANCE,
        remediation=(
            "Write (select auth.uid()) instead of auth.uid() (same for auth.jwt(), auth.role(), "
            "auth.email() and current_setting()) so the value is computed once per statement."
        ),
        sql=AUTH_RLS_INITPLAN,
    ),
    Lint(
        name="no_primary_key",
        doc="0004_no_primary_key",
        title="No primary key",
        level="INFO",
        categories=PERFORMANCE,
        remediation="Add a primary key.",
        sql=NO_PRIMARY_KEY,
    ),
    Lint(
        name="multiple_permissive_policies",
        doc="0006_multiple_permissive_policies",
        title="Multiple permissive policies",
        level="WARN",
        categories=PERFORMANCE,
        remediation=(
            "Combine the policies for this role and action into one policy (conditions OR-ed), or "
            "narrow each policy's roles and command."
        ),
        sql=MULTIPLE_PERMISSIVE_POLICIES,
    ),
    Lint(
        name="policy_exists_rls_disabled",
        doc="0007_policy_exists_rls_disabled",
        title="Policy exists RLS disabled",
        level="ERROR",
        categories=SECURITY,
        remediation="alter table ... enable row level security.",
        sql=POLICY_EXISTS_RLS_DISABLED,
    ),
    Lint(
        name="rls_enabled_no_policy",
        doc="0008_rls_enabled_no_policy",
        title="RLS enabled no policy",
        level="INFO",
        categories=SECURITY,
        remediation=("Add policies for the roles that should reach the table, or leave it to service_role."),
        sql=RLS_ENABLED_NO_POLICY,
    ),
    Lint(
        name="duplicate_index",
        doc="0009_duplicate_index",
        title="Duplicate index",
        level="WARN",
        categories=PERFORMANCE,
        remediation="Drop all but one of the identical indexes.",
        sql=DUPLICATE_INDEX,
    ),
    Lint(
        name="security_definer_view",
        doc="0010_security_definer_view",
        title="Security definer view",
        level="ERROR",
        categories=SECURITY,
        remediation=("Recreate the view with (security_invoker = true), or move it out of the exposed schemas."),
        sql=SECURITY_DEFINER_VIEW,
    ),
    Lint(
        name="function_search_path_mutable",
        doc="0011_function_search_path_mutable",
        title="Function search path mutable",
        level="WARN",
        categories=SECURITY,
        remediation=("Add `set search_path = ''` to the function and schema-qualify the names it uses."),
        sql=FUNCTION_SEARCH_PATH_MUTABLE,
    ),
    Lint(
        name="rls_disabled_in_public",
        doc="0013_rls_disabled_in_public",
        title="RLS disabled in public",
        level="ERROR",
        categories=SECURITY,
        remediation=(
            "alter table ... enable row level security, then add policies; or move the table out "
            "of the exposed schemas."
        ),
        sql=RLS_DISABLED_IN_PUBLIC,
    ),
    Lint(
        name="extension_in_public",
        doc="0014_extension_in_public",
        title="Extension in public",
        level="WARN",
        categories=SECURITY,
        remediation=(
            "Install the extension in the extensions schema: "
            "alter extension ... set schema extensions (or drop and recreate it there)."
        ),
        sql=EXTENSION_IN_PUBLIC,
    ),
    Lint(
        name="rls_references_user_metadata",
        doc="0015_rls_references_user_metadata",
        title="RLS references user metadata",
        level="ERROR",
        categories=SECURITY,
        remediation=(
            "Decide access from app_metadata (raw_app_meta_data), which only the server can set, "
            "or from a table the user cannot write."
        ),
        sql=RLS_REFERENCES_USER_METADATA,
    ),
    Lint(
        name="materialized_view_in_api",
        doc="0016_materialized_view_in_api",
        title="Materialized view in API",
        level="WARN",
        categories=SECURITY,
        remediation=(
            "Move the materialized view out of the exposed schemas or revoke select on it from anon and authenticated."
        ),
        sql=MATERIALIZED_VIEW_IN_API,
    ),
    Lint(
        name="foreign_table_in_api",
        doc="0017_foreign_table_in_api",
        title="Foreign table in API",
        level="WARN",
        categories=SECURITY,
        remediation=(
            "Move the foreign table out of the exposed schemas or revoke select on it from anon and authenticated."
        ),
        sql=FOREIGN_TABLE_IN_API,
    ),
    Lint(
        name="unsupported_reg_types",
        doc="0018_unsupported_reg_types",
        title="Unsupported reg types",
        level="WARN",
        categories=SECURITY,
        remediation="Store the object's name (text) or use regclass, regrole or regtype instead.",
        sql=UNSUPPORTED_REG_TYPES,
    ),
    Lint(
        name="fkey_to_auth_unique",
        doc="0021_fkey_to_auth_unique",
        title="Foreign key to auth unique constraint",
        level="ERROR",
        categories=SECURITY,
        remediation="Reference auth.users (id) instead.",
        sql=FKEY_TO_AUTH_UNIQUE,
    ),
    Lint(
        name="rls_policy_always_true",
        doc="0024_permissive_rls_policy",
        title="RLS policy always true",
        level="WARN",
        categories=SECURITY,
        remediation=(
            "Replace true by a condition on the row, e.g. ((select auth.uid()) = user_id), "
            "or limit the policy to service_role."
        ),
        sql=RLS_POLICY_ALWAYS_TRUE,
    ),
    Lint(
        name="anon_security_definer_function_executable",
        doc="0028_anon_security_definer_function_executable",
        title="Public can execute security definer function",
        level="WARN",
        categories=SECURITY,
        remediation=(
            "Revoke execute on the function from anon (and public), or move it to a private schema "
            "and call it from a security invoker wrapper."
        ),
        sql=SECURITY_DEFINER_FUNCTION_EXECUTABLE,
        params={"role": "anon"},
    ),
    Lint(
        name="authenticated_security_definer_function_executable",
        doc="0029_authenticated_security_definer_function_executable",
        title="Signed-in users can execute security definer function",
        level="WARN",
        categories=SECURITY,
        remediation=(
            "Revoke execute on the function from authenticated (and public) unless it is meant as "
            "an RPC endpoint, or move it to a private schema."
        ),
        sql=SECURITY_DEFINER_FUNCTION_EXECUTABLE,
        params={"role": "authenticated"},
    ),
    LIMITER_LINT,
)

LINTS_BY_NAME: dict[str, Lint] = {lint.name: lint for lint in LINTS}


# --------------------------------------------------------------------------- running


@contextmanager
def catalog_search_path(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Run catalog queries with `search_path = pg_catalog`, restoring the caller's afterwards.

    pg_get_expr, regclass and regprocedure print a name without its schema when the schema is
    on the search_path; pinning it makes `auth.uid()` and `public.t` come out qualified, which
    the lints match on and report. The setting is transaction-local: when a lint fails, the
    rolled-back transaction (or savepoint) restores the caller's value by itself.
    """
    with conn.transaction():
        row = conn.execute("select current_setting('search_path')").fetchone()
        previous = row[0] if row else ""
        conn.execute("select set_config('search_path', 'pg_catalog', true)")
        yield
        conn.execute("select set_config('search_path', %s, true)", (previous,))


def existing_roles(conn: psycopg.Connection[Any], roles: Sequence[str]) -> list[str]:
    """The given roles that exist: privilege functions raise on an unknown role name."""
    rows = conn.execute(
        "select rolname::text from pg_roles where rolname = any(%s::name []) order by 1",
        (list(roles),),
    ).fetchall()
    return [row[0] for row in rows]


def run_lint(conn: psycopg.Connection[Any], lint: Lint, params: Mapping[str, Any]) -> list[Finding]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(lint.sql, {**params, **lint.params})
        return [lint.finding(row["object"], row["detail"]) for row in cur.fetchall()]


def run_advisors(
    conn: psycopg.Connection[Any],
    exposed_schemas: Sequence[str],
    *,
    lints: Iterable[Lint] = LINTS,
) -> list[Finding]:
    """Run the lints on the database behind `conn` (read only); most severe findings first."""
    findings: list[Finding] = []
    with catalog_search_path(conn):
        api_roles = existing_roles(conn, API_ROLES)
        params = {
            "exposed_schemas": list(exposed_schemas),
            "system_schemas": list(SYSTEM_SCHEMAS),
            "api_roles": api_roles,
        }
        for lint in lints:
            # A per-role lint has nothing to check on a database without that role.
            if "role" in lint.params and lint.params["role"] not in api_roles:
                continue
            findings.extend(run_lint(conn, lint, params))
    return sort_findings(findings)


def level_rank(level: str) -> int:
    """0 for INFO up to 2 for ERROR, case-insensitively; ValueError for an unknown level."""
    return LEVELS.index(level.upper())


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-level_rank(f.level), f.name, f.object, f.detail))


def at_least(findings: Iterable[Finding], level: str) -> list[Finding]:
    """The findings at `level` or more severe (INFO < WARN < ERROR)."""
    floor = level_rank(level)
    return [f for f in findings if level_rank(f.level) >= floor]


def exit_code(findings: Iterable[Finding]) -> int:
    """1 when anything needs fixing (an ERROR or a WARN), else 0: INFO findings are advice."""
    return 1 if any(f.level in ("ERROR", "WARN") for f in findings) else 0


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    result: dict[str, int] = dict.fromkeys(reversed(LEVELS), 0)
    for f in findings:
        result[f.level] += 1
    return result


# --------------------------------------------------------------------------- rendering

_LEVEL_STYLE = {"ERROR": "bold red", "WARN": "yellow", "INFO": "cyan"}


def render_lines(findings: Iterable[Finding]) -> list[str]:
    """Plain `LEVEL name object: detail` lines, for logs, CI and pipes."""
    return [f.render() for f in findings]


def render_table(findings: Iterable[Finding]) -> Table:
    """A rich table for terminals. Cells are Text, so `text[]` in a detail is not read as markup."""
    table = Table("level", "lint", "object", "detail")
    for f in findings:
        table.add_row(
            Text(f.level, style=_LEVEL_STYLE.get(f.level, "")),
            Text(f.name),
            Text(f.object),
            Text(f.detail),
        )
    return table
