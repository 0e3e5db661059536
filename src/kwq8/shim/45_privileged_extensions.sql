-- supautils' privileged_extensions: on Supabase `postgres` is no superuser, yet may create, alter
-- and drop the extensions of this list (supabase/postgres, ansible/files/postgresql_config/
-- supautils.conf.j2), which supautils runs as supabase_admin, followed by the extension's
-- after-create script. Any other extension that needs a superuser is refused by PostgreSQL itself
-- ("permission denied to create extension"). Plain PostgreSQL has no such hook, so for exactly
-- one extension statement of `postgres` the shim lends it the superuser attribute
-- (15_lend.sql), refuses at the end what was not on the list, gives what was created to
-- supabase_admin as supautils would, and takes the attribute back.
create or replace function kwq8_shim.privileged_extensions() returns text []
language sql
immutable
set search_path = ''
as $$
    select array[
        'address_standardizer', 'address_standardizer_data_us', 'autoinc', 'bloom', 'btree_gin', 'btree_gist',
        'citext', 'cube', 'dblink', 'dict_int', 'dict_xsyn', 'earthdistance', 'fuzzystrmatch', 'hstore', 'http',
        'hypopg', 'index_advisor', 'insert_username', 'intarray', 'isn', 'ltree', 'moddatetime', 'orioledb',
        'pg_cron', 'pg_graphql', 'pg_hashids', 'pg_jsonschema', 'pg_net', 'pg_partman', 'pg_repack',
        'pg_stat_monitor', 'pg_stat_statements', 'pg_tle', 'pg_trgm', 'pg_walinspect', 'pgaudit', 'pgcrypto',
        'pgjwt', 'pg_prewarm', 'pgmq', 'pgroonga', 'pgroonga_database', 'pgrouting', 'pgrowlocks', 'pgstattuple',
        'pgsodium', 'pgtap', 'plcoffee', 'pljava', 'plls', 'plpgsql', 'plpgsql_check', 'plv8', 'postgis',
        'postgis_raster', 'postgis_sfcgal', 'postgis_tiger_geocoder', 'postgis_topology', 'postgres_fdw',
        'refint', 'rum', 'seg', 'sslinfo', 'supabase_vault', 'supautils', 'tablefunc', 'tcn', 'timescaledb',
        'tsm_system_rows', 'tsm_system_time', 'unaccent', 'uuid-ossp', 'vector', 'wrappers'
    ]::text []
$$;

-- What supautils' superuser leaves behind: the extension and its objects owned by supabase_admin,
-- with `postgres` granted all of them (Supabase's default privileges of supabase_admin in
-- `extensions` do the same; a change of owner alone would move postgres's own rights to the new
-- owner), then Supabase's after-create script, of which the project needs pg_cron's
-- (ansible/files/postgresql_extension_custom_scripts/pg_cron).
create or replace function kwq8_shim.adopt_extension(p_extension oid) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    _member record;
begin
    for _member in
        select d.classid, d.objid
        from pg_catalog.pg_depend as d
        where d.refclassid = 'pg_catalog.pg_extension'::regclass and d.refobjid = p_extension and d.deptype = 'e'
    loop
        if _member.classid = 'pg_catalog.pg_namespace'::regclass then
            if (select nspowner from pg_catalog.pg_namespace where oid = _member.objid) = 'postgres'::regrole then
                execute format('alter schema %I owner to supabase_admin', _member.objid::regnamespace);
                execute format('grant all on schema %I to postgres with grant option', _member.objid::regnamespace);
            end if;
        elsif _member.classid = 'pg_catalog.pg_proc'::regclass then
            if (select proowner from pg_catalog.pg_proc where oid = _member.objid) = 'postgres'::regrole then
                execute format('alter routine %s owner to supabase_admin', _member.objid::regprocedure);
                execute format('grant all on routine %s to postgres with grant option', _member.objid::regprocedure);
            end if;
        elsif _member.classid = 'pg_catalog.pg_class'::regclass then
            -- A sequence owned by a column follows its table.
            if (select relowner from pg_catalog.pg_class where oid = _member.objid) = 'postgres'::regrole
                and not exists (
                    select from pg_catalog.pg_depend as o
                    where o.classid = 'pg_catalog.pg_class'::regclass and o.objid = _member.objid
                        and o.deptype in ('a', 'i') and o.refclassid = 'pg_catalog.pg_class'::regclass
                ) then
                execute format('alter table %s owner to supabase_admin', _member.objid::regclass);
                execute format(
                    'grant all on %s %s to postgres with grant option',
                    case when (select relkind from pg_catalog.pg_class where oid = _member.objid) = 'S'
                        then 'sequence' else 'table' end,
                    _member.objid::regclass
                );
            end if;
        elsif _member.classid = 'pg_catalog.pg_type'::regclass then
            if (select typowner from pg_catalog.pg_type where oid = _member.objid) = 'postgres'::regrole then
                execute format('alter type %s owner to supabase_admin', _member.objid::regtype);
            end if;
        end if;
    end loop;
    update pg_catalog.pg_extension set extowner = 'supabase_admin'::regrole
    where oid = p_extension and extowner = 'postgres'::regrole;
    if (select extname from pg_catalog.pg_extension where oid = p_extension) = 'pg_cron' then
        grant usage on schema cron to postgres with grant option;
        grant all on all functions in schema cron to postgres with grant option;
        alter default privileges for user supabase_admin in schema cron grant all
        on sequences to postgres with grant option;
        alter default privileges for user supabase_admin in schema cron grant all
        on tables to postgres with grant option;
        alter default privileges for user supabase_admin in schema cron grant all
        on functions to postgres with grant option;
        grant all privileges on all tables in schema cron to postgres with grant option;
        revoke all on table cron.job from postgres;
        grant select on table cron.job to postgres with grant option;
    end if;
end
$$;
revoke all on function kwq8_shim.adopt_extension(oid) from public;
grant execute on function kwq8_shim.adopt_extension(oid) to postgres;

-- The extensions `postgres` owns when its statement starts: those it may drop or alter without
-- the loan (trusted ones it created itself).
create or replace function kwq8_shim.extension_start() returns event_trigger
language plpgsql
set search_path = ''
as $$
begin
    if current_user = 'postgres' and not (select rolsuper from pg_catalog.pg_roles where rolname = 'postgres') then
        perform set_config(
            'kwq8_shim.extensions_of_postgres',
            coalesce((
                select string_agg(extname, ',')
                from pg_catalog.pg_extension
                where extowner = 'postgres'::regrole
            ), ''),
            true
        );
        perform kwq8_shim.lend('superuser', true);
    end if;
end
$$;

-- As PostgreSQL would have answered without the loan: an extension off the list is refused
-- unless `postgres` could have done it alone (a trusted extension, or one it owns).
create or replace function kwq8_shim.extension_end() returns event_trigger
language plpgsql
set search_path = ''
as $$
declare
    _ext record;
begin
    if current_setting('kwq8_shim.lent_superuser', true) is distinct from 'on' then
        return;
    end if;
    for _ext in
        select distinct c.command_tag, e.oid, e.extname, v.superuser, v.trusted
        from pg_event_trigger_ddl_commands() as c
        inner join pg_catalog.pg_extension as e on c.classid = 'pg_catalog.pg_extension'::regclass and e.oid = c.objid
        left join pg_catalog.pg_available_extension_versions as v on v.name = e.extname and v.version = e.extversion
    loop
        if _ext.extname = any(kwq8_shim.privileged_extensions()) then
            perform kwq8_shim.adopt_extension(_ext.oid);
        elsif _ext.command_tag = 'CREATE EXTENSION' and _ext.superuser and not _ext.trusted then
            raise exception 'permission denied to create extension "%"', _ext.extname
            using errcode = '42501', hint = 'Must be superuser to create this extension.';
        elsif _ext.command_tag = 'ALTER EXTENSION'
            and _ext.extname != all(string_to_array(current_setting('kwq8_shim.extensions_of_postgres', true), ','))
            then
            raise exception 'must be owner of extension %', _ext.extname using errcode = '42501';
        end if;
    end loop;
    perform kwq8_shim.lend('superuser', false);
end
$$;

create or replace function kwq8_shim.extension_drop() returns event_trigger
language plpgsql
set search_path = ''
as $$
declare
    _name text;
begin
    if current_setting('kwq8_shim.lent_superuser', true) is distinct from 'on' then
        return;
    end if;
    for _name in
        select d.object_identity
        from pg_event_trigger_dropped_objects() as d
        where d.object_type = 'extension' and d.original
    loop
        if _name != all(kwq8_shim.privileged_extensions())
            and _name != all(string_to_array(current_setting('kwq8_shim.extensions_of_postgres', true), ',')) then
            raise exception 'must be owner of extension %', _name using errcode = '42501';
        end if;
    end loop;
end
$$;

drop event trigger if exists kwq8_shim_extension_start;
create event trigger kwq8_shim_extension_start on ddl_command_start
when tag in ('CREATE EXTENSION', 'ALTER EXTENSION', 'DROP EXTENSION')
execute function kwq8_shim.extension_start();
drop event trigger if exists kwq8_shim_extension_drop;
create event trigger kwq8_shim_extension_drop on sql_drop
when tag in ('DROP EXTENSION')
execute function kwq8_shim.extension_drop();
drop event trigger if exists kwq8_shim_extension_end;
create event trigger kwq8_shim_extension_end on ddl_command_end
when tag in ('CREATE EXTENSION', 'ALTER EXTENSION', 'DROP EXTENSION')
execute function kwq8_shim.extension_end();
