"""Every RPC the API roles can execute answers a precise type: no function in `public` that anon,
authenticated or service_role may call returns json or jsonb, bare or inside its result type (a
composite's attributes, an array's elements, a returns-table column), so the generated
Functions[...]["Returns"] and the Zod result schemas name every field."""

from __future__ import annotations

from kwq8.testing.database import TestDatabase

# Functions allowed to answer json/jsonb anyway, each with its reason. None today.
EXCEPTIONS: dict[str, str] = {}

# Every type a result is made of: the result type, the attributes of composites and the elements
# of arrays, recursively; the json ones are reported with the function they come from.
UNTYPED = """
with recursive exposed as (
    select p.oid, p.oid::regprocedure::text as fn
    from pg_catalog.pg_proc as p
    where p.pronamespace = 'public'::regnamespace and p.prokind = 'f'
        and (has_function_privilege('anon', p.oid, 'execute')
            or has_function_privilege('authenticated', p.oid, 'execute')
            or has_function_privilege('service_role', p.oid, 'execute'))
),
fns (fn, typ) as (
    select e.fn, p.prorettype
    from exposed as e inner join pg_catalog.pg_proc as p on p.oid = e.oid
    union
    -- returns table (...) and out parameters
    select e.fn, a.typ
    from exposed as e
    inner join pg_catalog.pg_proc as p on p.oid = e.oid
    cross join lateral unnest(p.proallargtypes, p.proargmodes) as a (typ, mode)
    where a.mode in ('o', 't', 'b')
),
parts (fn, typ, depth) as (
    select fn, typ, 0 from fns
    union all
    select parts.fn, coalesce(nullif(t.typelem, 0), a.atttypid), parts.depth + 1
    from parts
    inner join pg_catalog.pg_type as t on t.oid = parts.typ
    left join pg_catalog.pg_attribute as a
        on t.typtype = 'c' and a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped
    where parts.depth < 10 and (t.typelem <> 0 and t.typcategory = 'A' or a.atttypid is not null)
)
select distinct parts.fn
from parts
where parts.typ in ('json'::regtype, 'jsonb'::regtype)
order by 1
"""


def test_no_rpc_the_api_roles_call_answers_json(kwq8_tx: TestDatabase) -> None:
    untyped = {row["fn"] for row in kwq8_tx.sql(UNTYPED)}
    assert untyped == set(EXCEPTIONS), sorted(untyped - set(EXCEPTIONS))


def test_the_check_sees_json_results(kwq8_tx: TestDatabase) -> None:
    """The query finds json however it is wrapped: bare, in a set, a composite, an array, a table."""
    db = kwq8_tx
    db.sql(
        """
        create type public.zz_w as (id uuid, extra jsonb);
        create function public.zz_bare() returns jsonb language sql as $$ select '{}'::jsonb $$;
        create function public.zz_setof() returns setof json language sql as $$ select '{}'::json $$;
        create function public.zz_composite() returns public.zz_w language sql as $$ select null::public.zz_w $$;
        create function public.zz_array() returns jsonb[] language sql as $$ select array['{}'::jsonb] $$;
        create function public.zz_table() returns table (a int, b jsonb) language sql as $$ select 1, null::jsonb $$;
        create function public.zz_typed() returns public.zz_w[] language sql as $$ select null::public.zz_w[] $$;
        create function public.zz_private() returns jsonb language sql as $$ select '{}'::jsonb $$;
        revoke all on function public.zz_private() from public, anon, authenticated, service_role;
        grant execute on function public.zz_bare(), public.zz_setof(), public.zz_composite(), public.zz_array(),
            public.zz_table(), public.zz_typed() to service_role;
        """
    )
    found = {row["fn"] for row in db.sql(UNTYPED) if row["fn"].startswith("zz_")}
    assert found == {"zz_bare()", "zz_setof()", "zz_composite()", "zz_array()", "zz_table()", "zz_typed()"}
