-- Local stand-in for the roles of Supabase's database image (supabase/postgres init-scripts and
-- the demote-postgres migration). Cluster-wide, idempotent. Passwords are the Supabase CLI's
-- local defaults and exist only on throwaway local clusters.
do $$
begin
    if not exists (select from pg_roles where rolname = 'postgres') then
        create role postgres;
    end if;
    if not exists (select from pg_roles where rolname = 'anon') then
        create role anon nologin noinherit;
    end if;
    if not exists (select from pg_roles where rolname = 'authenticated') then
        create role authenticated nologin noinherit;
    end if;
    if not exists (select from pg_roles where rolname = 'service_role') then
        create role service_role nologin noinherit bypassrls;
    end if;
    if not exists (select from pg_roles where rolname = 'authenticator') then
        create role authenticator login noinherit;
    end if;
    if not exists (select from pg_roles where rolname = 'supabase_auth_admin') then
        create role supabase_auth_admin login noinherit createrole;
    end if;
    if not exists (select from pg_roles where rolname = 'supabase_storage_admin') then
        create role supabase_storage_admin login noinherit createrole;
    end if;
    -- The platform's other roles (00000000000000-initial-schema, 00000000000003-post-setup,
    -- pgbouncer_auth_schema): present so SQL naming them behaves as on a hosted project.
    if not exists (select from pg_roles where rolname = 'supabase_replication_admin') then
        create role supabase_replication_admin login replication;
    end if;
    if not exists (select from pg_roles where rolname = 'supabase_read_only_user') then
        create role supabase_read_only_user login bypassrls;
    end if;
    if not exists (select from pg_roles where rolname = 'dashboard_user') then
        create role dashboard_user nosuperuser createdb createrole replication;
    end if;
    if not exists (select from pg_roles where rolname = 'pgbouncer') then
        create role pgbouncer login;
    end if;
end
$$;

-- As on Supabase after 10000000000000_demote-postgres: not a superuser.
alter role postgres nosuperuser createdb createrole login replication bypassrls password 'postgres';
alter role authenticator password 'postgres';
alter role supabase_auth_admin password 'postgres';
alter role supabase_storage_admin password 'postgres';
-- 20230529180330_alter_api_roles_for_inherit
alter role anon inherit;
alter role authenticated inherit;
alter role service_role inherit;

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;
grant pg_read_all_data, pg_signal_backend, pg_monitor to postgres;
grant pg_read_all_data to supabase_read_only_user;
grant authenticator to supabase_storage_admin;
-- 20250421084701_revoke_admin_roles_from_postgres: `postgres` is not a member of the services'
-- owner roles, so owner-only changes to auth.users or storage.objects fail with "must be owner".
do $$
begin
    if pg_has_role('postgres', 'supabase_storage_admin', 'member') then
        revoke supabase_storage_admin from postgres;
    end if;
    if pg_has_role('postgres', 'supabase_auth_admin', 'member') then
        revoke supabase_auth_admin from postgres;
    end if;
end
$$;

alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';
alter role authenticator set statement_timeout = '8s';
alter role authenticator set lock_timeout = '8s';
alter role postgres set search_path = "$user", public, extensions;
alter role supabase_admin set search_path = "$user", public, auth, extensions;
alter role supabase_auth_admin set search_path = auth;
alter role supabase_storage_admin set search_path = storage;

-- Supabase's supautils lets postgres set PostgREST's in-database configuration on the API roles
-- (privileged_role_allowed_configs includes pgrst.*), as its rate-limiting guide does with
-- db_pre_request; PostgreSQL's own SET privilege on the parameter does the same here.
grant set on parameter pgrst.db_pre_request to postgres;
-- From PostgreSQL 16 on, CREATEROLE alone no longer lets postgres alter authenticator (it also
-- needs ADMIN OPTION on it); on Supabase supautils grants that alteration. ADMIN without INHERIT or
-- SET gives postgres none of authenticator's privileges, only the right to configure it.
do $$
begin
    if current_setting('server_version_num')::int >= 160000
        and not exists (
            select from pg_auth_members as m
            where
                m.roleid = 'authenticator'::regrole
                and m.member = 'postgres'::regrole
                and m.admin_option
        ) then
        execute 'grant authenticator to postgres with admin true, inherit false, set false';
    end if;
end
$$;
