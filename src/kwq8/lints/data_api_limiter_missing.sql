-- The Data API write limiter is PostgREST's db-pre-request function for this database (set by
-- migration 0011). Missing or pointing elsewhere, nothing limits Data API writes. PostgREST's
-- rule: the authenticator's setting for this database wins over its setting for every database.
-- Checked only where the limiter exists, so a database of another project is not flagged.
select
    'role authenticator' as object,
    case
        when setting.value is null
            then 'pgrst.db_pre_request is not set: Data API writes are not limited'
        else 'pgrst.db_pre_request is ' || setting.value
            || ', not ratelimit.check_request: Data API writes are not limited'
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
    to_regprocedure('ratelimit.check_request()') is not null
    and setting.value is distinct from 'ratelimit.check_request'
