-- A deleted project's Storage folder is removed by the storage cleanup job, through the Storage
-- API (never by deleting storage.objects rows, which would orphan the files and which Supabase
-- refuses). The trigger queues the project; the job asks for a batch, deletes those objects with
-- one Storage API request per project, and reports back, until the folder is empty.
create or replace function private.queue_storage_cleanup()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into private.storage_cleanups (project_id) values (old.id)
    on conflict (project_id) do update set done_at = null, requested_at = now();
    return null;
end
$$;

-- The names left under a project's folder, in name order. The bounds are the folder's prefix
-- compared with the pattern operators, which storage's text_pattern_ops index on name serves.
create or replace function private.storage_folder_objects(p_bucket text, p_project uuid, p_limit integer)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
    select coalesce(array_agg(o.name order by o.name), '{}')
    from (
        select o.name from storage.objects as o
        where
            o.bucket_id = p_bucket
            and o.name operator (pg_catalog.~>=~) (p_project::text || '/')
            and o.name operator (pg_catalog.~<~) (p_project::text || '0')
        order by o.name
        limit p_limit
    ) as o
$$;

-- The job's next batch: the oldest pending cleanups, each with up to 1,000 object names (the
-- Storage API's limit per delete request). Cleanups whose folder is already empty are closed.
create or replace function private.storage_cleanup_batch(p_max_projects integer)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
    if p_max_projects is null or p_max_projects not between 1 and 100 then
        perform private.raise_error('VAL_001', 'max_projects must be between 1 and 100');
    end if;
    update private.storage_cleanups as c set done_at = now()
    where c.done_at is null and cardinality(private.storage_folder_objects(c.bucket_id, c.project_id, 1)) = 0;
    return coalesce((
        select jsonb_agg(jsonb_build_object(
            'project_id', c.project_id, 'bucket_id', c.bucket_id,
            'names', to_jsonb(private.storage_folder_objects(c.bucket_id, c.project_id, 1000))
        ) order by c.requested_at)
        from (
            select * from private.storage_cleanups as sc
            where sc.done_at is null
            order by sc.requested_at
            limit p_max_projects
            for update skip locked
        ) as c
    ), '[]'::jsonb);
end
$$;

-- What the Storage API answered for one project's batch: an error is recorded (the next run
-- tries again); otherwise the cleanup is done once the folder is empty.
create or replace function private.finish_storage_cleanup(p_project uuid, p_error text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
    v_cleanup private.storage_cleanups;
    v_left integer;
begin
    select * into v_cleanup from private.storage_cleanups where project_id = p_project for update;
    if not found then
        perform private.raise_error('VAL_001', format('no storage cleanup for project %s', p_project));
    end if;
    v_left := cardinality(private.storage_folder_objects(v_cleanup.bucket_id, p_project, 1000));
    update private.storage_cleanups
    set
        attempts = attempts + 1,
        last_error = left(p_error, 500),
        done_at = case when p_error is null and v_left = 0 then now() end
    where project_id = p_project;
    return jsonb_build_object('project_id', p_project, 'remaining', v_left, 'done', p_error is null and v_left = 0);
end
$$;

create or replace function public.storage_cleanup_batch(max_projects integer default 10)
returns setof public.storage_cleanup_item
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_recordset(null::public.storage_cleanup_item, private.storage_cleanup_batch(max_projects))
$$;

create or replace function public.finish_storage_cleanup(project_id uuid, error text default null)
returns public.storage_cleanup_result
language sql
volatile
set search_path = ''
as $$
    select * from jsonb_populate_record(null::public.storage_cleanup_result, private.finish_storage_cleanup(project_id, error))
$$;

revoke all on function private.queue_storage_cleanup(), private.storage_folder_objects(text, uuid, integer),
private.storage_cleanup_batch(integer), private.finish_storage_cleanup(uuid, text),
public.storage_cleanup_batch(integer), public.finish_storage_cleanup(uuid, text) from public;
grant execute on function private.storage_folder_objects(text, uuid, integer),
private.storage_cleanup_batch(integer), private.finish_storage_cleanup(uuid, text),
public.storage_cleanup_batch(integer), public.finish_storage_cleanup(uuid, text) to service_role;
