-- Tidy what people type before the checks see it: names trimmed, slug and subdomain trimmed
-- and lower-cased (updated_at: private.touch_updated_at).
create or replace function private.prepare_project()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.name := btrim(new.name);
    new.slug := lower(btrim(new.slug));
    new.subdomain := lower(btrim(new.subdomain));
    return new;
end
$$;

revoke all on function private.prepare_project() from public;

drop trigger if exists projects_prepare on public.projects;
create trigger projects_prepare
before insert or update on public.projects
for each row execute function private.prepare_project();
