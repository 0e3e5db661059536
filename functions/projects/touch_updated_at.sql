-- updated_at of the rows the services write (deployments, domains).
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
