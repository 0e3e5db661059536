-- KWq8's rule, stricter than splinter's rls_disabled_in_public (which flags a table only once
-- anon or authenticated is granted on it): the project grants explicitly, so a table without
-- RLS in an exposed schema is one grant away from being open. The detail names the API roles
-- that reach it today.
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
