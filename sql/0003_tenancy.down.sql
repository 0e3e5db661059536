-- Undoes 0003_tenancy (development only: it deletes every project, its client data and its
-- stored assets). The helpers in functions/private and functions/projects stay, as repeatable
-- files' objects do; after upgrading again run `kwq8 db migrate --reapply-all` so the
-- policies and triggers of the recreated tables come back.
drop policy if exists project_assets_read on storage.objects;
drop policy if exists project_assets_insert on storage.objects;
drop policy if exists project_assets_update on storage.objects;
drop policy if exists project_assets_delete on storage.objects;
-- Storage refuses direct deletes unless the transaction says it is the Storage API's kind of
-- delete (storage.protect_delete); this one is, for development databases only.
select set_config('storage.allow_delete_query', 'true', true);
delete from storage.objects
where bucket_id = 'project-assets';
delete from storage.buckets
where id = 'project-assets';
drop table if exists public.domains, public.deployments, public.contact_messages, public.bookings,
public.projects cascade;
delete from public.error_codes
where code = 'PROJ_001';
