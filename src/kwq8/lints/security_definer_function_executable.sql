-- Supabase's lints 0028/0029 (anon_ / authenticated_security_definer_function_executable),
-- which the pinned Supabase CLI does not ship yet: a SECURITY DEFINER function in an exposed
-- schema that the role may execute runs with its owner's rights through /rest/v1/rpc.
-- %(role)s is the role checked.
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
