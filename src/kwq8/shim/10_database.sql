-- Per-database setup of a Supabase database: schemas, the public schema's privileges, extensions.
do $$
begin
    execute format('grant all on database %I to postgres', current_database());
end
$$;

create schema if not exists extensions authorization postgres;
grant usage on schema extensions to anon, authenticated, service_role;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;

grant usage, create on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;

-- The Data API's second default schema; empty unless pg_graphql is installed.
create schema if not exists graphql_public authorization postgres;
grant usage on schema graphql_public to anon, authenticated, service_role;

-- Newer Supabase projects no longer expose new objects automatically (auto_expose_new_tables =
-- false); grants are explicit in migrations. Functions are not executable by PUBLIC by default.
alter default privileges for role postgres in schema public
revoke all on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public
revoke all on sequences from anon, authenticated, service_role;
alter default privileges for role postgres
revoke execute on functions from public;

-- Supabase creates an empty supabase_realtime publication in every database (supabase/postgres
-- init-scripts/00000000000000-initial-schema.sql, run as postgres); projects add their tables
-- to it. Publications are per database, so it is created here.
do $$
begin
    if not exists (select from pg_publication where pubname = 'supabase_realtime') then
        create publication supabase_realtime;
    end if;
end
$$;
alter publication supabase_realtime owner to postgres;
