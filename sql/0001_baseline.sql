-- 0001: secure defaults and the schemas that hold logic the Data API must not expose.
--
-- Supabase projects created before auto_expose_new_tables = false grant every new table and
-- function in public to anon and authenticated. Revoke those defaults here, so that on any
-- Supabase database, local or hosted, nothing is reachable from the browser without an
-- explicit grant in a migration.
alter default privileges for role postgres in schema public
revoke all on tables from anon, authenticated, service_role;
alter default privileges for role postgres in schema public
revoke all on sequences from anon, authenticated, service_role;
alter default privileges for role postgres in schema public
revoke all on functions from anon, authenticated, service_role;
alter default privileges for role postgres
revoke execute on functions from public;

-- Business logic and SECURITY DEFINER helpers live outside the exposed schemas. API roles may
-- use the schema (policies call its helpers) but get EXECUTE function by function.
create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to anon, authenticated, service_role;
