-- The `storage` schema of Supabase Storage: buckets, objects (RLS on) and the path helpers.
create schema if not exists storage authorization supabase_admin;
alter schema storage owner to supabase_storage_admin;
grant usage on schema storage to anon, authenticated, service_role, postgres;

create table if not exists storage.buckets (
    id text primary key,
    name text not null unique,
    owner uuid,
    owner_id text,
    public boolean default false,
    avif_autodetection boolean default false,
    file_size_limit bigint,
    allowed_mime_types text [],
    created_at timestamptz default now(),
    updated_at timestamptz default now()
);

create table if not exists storage.objects (
    id uuid primary key default extensions.gen_random_uuid(),
    bucket_id text references storage.buckets (id),
    name text,
    owner uuid,
    owner_id text,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    last_accessed_at timestamptz default now(),
    metadata jsonb,
    path_tokens text [] generated always as (string_to_array(name, '/')) stored,
    version text,
    user_metadata jsonb,
    unique (bucket_id, name)
);
create index if not exists objects_bucket_id_name_idx on storage.objects (bucket_id, name text_pattern_ops);

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;

create or replace function storage.foldername(name text) returns text []
language plpgsql immutable
as $$
declare
    _parts text[];
begin
    select string_to_array(name, '/') into _parts;
    return _parts[1:array_length(_parts, 1) - 1];
end
$$;

create or replace function storage.filename(name text) returns text
language plpgsql immutable
as $$
declare
    _parts text[];
begin
    select string_to_array(name, '/') into _parts;
    return _parts[array_length(_parts, 1)];
end
$$;

create or replace function storage.extension(name text) returns text
language plpgsql immutable
as $$
declare
    _parts text[];
    _filename text;
begin
    select string_to_array(name, '/') into _parts;
    select _parts[array_length(_parts, 1)] into _filename;
    return reverse(split_part(reverse(_filename), '.', 1));
end
$$;

alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;
alter function storage.foldername(text) owner to supabase_storage_admin;
alter function storage.filename(text) owner to supabase_storage_admin;
alter function storage.extension(text) owner to supabase_storage_admin;
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
grant all on storage.buckets, storage.objects to postgres;
grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text)
to public;
-- Supabase Storage refuses direct deletes (its protect_delete triggers): objects are removed
-- through the Storage API, which sets storage.allow_delete_query for its own statements.
create or replace function storage.protect_delete() returns trigger
language plpgsql
as $$
begin
    if coalesce(current_setting('storage.allow_delete_query', true), 'false') != 'true' then
        raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
        using hint = 'This prevents accidental data loss from orphaned objects.', errcode = '42501';
    end if;
    return null;
end
$$;
alter function storage.protect_delete() owner to supabase_storage_admin;
drop trigger if exists protect_buckets_delete on storage.buckets;
create trigger protect_buckets_delete before delete on storage.buckets
for each statement execute function storage.protect_delete();
drop trigger if exists protect_objects_delete on storage.objects;
create trigger protect_objects_delete before delete on storage.objects
for each statement execute function storage.protect_delete();

-- On Supabase `postgres` owns nothing in storage, yet may create, alter and drop policies on
-- storage.objects and storage.buckets: supautils' policy_grants lets it, whatever the client
-- (kwq8 db migrate, supabase db push, psql). Plain PostgreSQL lets only the owner, so for exactly
-- one policy statement at a time the shim lends `postgres` membership in the tables' owner, and
-- takes it back before the statement ends (the grant is never committed, so no other session
-- sees it). A policy statement on any other storage table is refused; everything else
-- owner-only (alter table, create trigger) fails as on Supabase.
drop function if exists kwq8_shim.storage_policy_ddl(text);

create or replace function kwq8_shim.storage_policy_start() returns event_trigger
language plpgsql
set search_path = ''
as $$
begin
    if current_user = 'postgres' then
        perform kwq8_shim.lend('supabase_storage_admin', true);
    end if;
end
$$;

-- The statement's target, known once it ran: only storage.objects and storage.buckets may be
-- reached this way (a refusal rolls the statement back, and the lent membership with it).
create or replace function kwq8_shim.storage_policy_end() returns event_trigger
language plpgsql
set search_path = ''
as $$
begin
    if current_setting('kwq8_shim.lent_supabase_storage_admin', true) is distinct from 'on' then
        return;
    end if;
    if exists (
        select
        from pg_event_trigger_ddl_commands() as c
        inner join pg_catalog.pg_policy as p on c.classid = 'pg_catalog.pg_policy'::regclass and p.oid = c.objid
        where p.polrelid not in ('storage.objects'::regclass, 'storage.buckets'::regclass)
            and (select relowner from pg_catalog.pg_class where oid = p.polrelid) = 'supabase_storage_admin'::regrole
    ) then
        raise exception 'permission denied: policies on storage tables other than objects and buckets'
        using errcode = '42501';
    end if;
    perform kwq8_shim.lend('supabase_storage_admin', false);
end
$$;

create or replace function kwq8_shim.storage_policy_drop() returns event_trigger
language plpgsql
set search_path = ''
as $$
begin
    if current_setting('kwq8_shim.lent_supabase_storage_admin', true) = 'on' and exists (
        select
        from pg_event_trigger_dropped_objects() as d
        where d.object_type = 'policy'
            and d.address_names[1] = 'storage'
            and d.address_names[2] not in ('objects', 'buckets')
    ) then
        raise exception 'permission denied: policies on storage tables other than objects and buckets'
        using errcode = '42501';
    end if;
end
$$;

drop event trigger if exists kwq8_shim_storage_policy_start;
create event trigger kwq8_shim_storage_policy_start on ddl_command_start
when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
execute function kwq8_shim.storage_policy_start();
drop event trigger if exists kwq8_shim_storage_policy_drop;
create event trigger kwq8_shim_storage_policy_drop on sql_drop
when tag in ('DROP POLICY')
execute function kwq8_shim.storage_policy_drop();
drop event trigger if exists kwq8_shim_storage_policy_end;
create event trigger kwq8_shim_storage_policy_end on ddl_command_end
when tag in ('CREATE POLICY', 'ALTER POLICY', 'DROP POLICY')
execute function kwq8_shim.storage_policy_end();
drop function if exists kwq8_shim.lend_storage_owner(boolean);
