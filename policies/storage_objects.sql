-- Project assets (bucket project-assets, private): objects are named <project_id>/...
-- Owners read and write their projects' folders and nothing else. Everyone may read a
-- published project's <project_id>/public/... assets one object at a time: the public half of
-- the read policy holds only for Storage's single-object reads (storage.operation, set by the
-- Storage API per request), never for listing, so nobody lists another project's files.
-- Signing is one of those reads: a published site's pages get their image URLs from
-- createSignedUrl(s) with the anon key (an <img> cannot send a key), and the Storage API serves
-- a signed URL until it expires without asking RLS again, so sites sign for a bounded time.
-- What owners write must have a name every path normaliser reads the same way
-- (private.is_safe_object_name: no `.`, `..` or empty segments, backslashes, encoded dots or
-- separators, or control characters), so the folder checked here is the folder it lands in.
drop policy if exists project_assets_read on storage.objects;
create policy project_assets_read on storage.objects
for select
to anon, authenticated
using (
    bucket_id = 'project-assets'
    and (
        private.project_id_from_path(name) = any(array(select private.owned_project_ids()))
        or (
            (storage.foldername(name))[2] = 'public'
            and (select current_setting('storage.operation', true)) in (
                'storage.object.get_authenticated',
                'storage.object.info_authenticated',
                'storage.render.image_authenticated',
                'storage.object.sign',
                'storage.object.sign_many'
            )
            and private.is_published_project(private.project_id_from_path(name))
        )
    )
);

drop policy if exists project_assets_insert on storage.objects;
create policy project_assets_insert on storage.objects
for insert
to authenticated
with check (
    bucket_id = 'project-assets'
    and private.is_safe_object_name(name)
    and private.project_id_from_path(name) = any(array(select private.owned_project_ids()))
);

drop policy if exists project_assets_update on storage.objects;
create policy project_assets_update on storage.objects
for update
to authenticated
using (
    bucket_id = 'project-assets'
    and private.project_id_from_path(name) = any(array(select private.owned_project_ids()))
)
with check (
    bucket_id = 'project-assets'
    and private.is_safe_object_name(name)
    and private.project_id_from_path(name) = any(array(select private.owned_project_ids()))
);

drop policy if exists project_assets_delete on storage.objects;
create policy project_assets_delete on storage.objects
for delete
to authenticated
using (
    bucket_id = 'project-assets'
    and private.project_id_from_path(name) = any(array(select private.owned_project_ids()))
);
