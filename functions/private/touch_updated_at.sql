-- updated_at of every row people or services edit: projects, bookings, contact messages,
-- deployments and domains, set on each update whoever makes it.
create or replace function private.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.updated_at := now();
    return new;
end
$$;

revoke all on function private.touch_updated_at() from public;

drop trigger if exists deployments_touch on public.deployments;
create trigger deployments_touch
before update on public.deployments
for each row execute function private.touch_updated_at();

drop trigger if exists domains_touch on public.domains;
create trigger domains_touch
before update on public.domains
for each row execute function private.touch_updated_at();

drop trigger if exists projects_touch on public.projects;
create trigger projects_touch
before update on public.projects
for each row execute function private.touch_updated_at();

drop trigger if exists bookings_touch on public.bookings;
create trigger bookings_touch
before update on public.bookings
for each row execute function private.touch_updated_at();

drop trigger if exists contact_messages_touch on public.contact_messages;
create trigger contact_messages_touch
before update on public.contact_messages
for each row execute function private.touch_updated_at();
