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
-- storage.objects and storage.buckets: supautils' policy_grants lets it. Plain PostgreSQL lets
-- only the owner, so the toolkit sends exactly those statements (and nothing else) through this
-- function; everything else owner-only (alter table, create trigger) fails as on Supabase.
create schema if not exists kwq8_shim authorization supabase_admin;
revoke all on schema kwq8_shim from public;
grant usage on schema kwq8_shim to postgres;
create or replace function kwq8_shim.storage_policy_ddl(p_statement text) returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_body text := rtrim(p_statement, E'; \n\r\t');
begin
    if v_body !~* '^\s*(create|alter|drop)\s+policy\s'
        or v_body !~* '\son\s+"?storage"?\s*\.\s*"?(objects|buckets)"?(\s|$)'
        or position(';' in v_body) > 0 then
        raise exception 'not one policy statement on storage.objects or storage.buckets: %', left(p_statement, 200)
        using errcode = '42501';
    end if;
    execute v_body;
end
$$;
revoke all on function kwq8_shim.storage_policy_ddl(text) from public;
grant execute on function kwq8_shim.storage_policy_ddl(text) to postgres;
