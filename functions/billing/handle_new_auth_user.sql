-- Every auth user gets its public.users row in the same transaction as its sign-up, and keeps
-- its email in step. Runs as the table owner because Supabase Auth inserts as its own role.
create or replace function billing.handle_new_auth_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
    insert into public.users (id, email)
    values (new.id, new.email)
    on conflict (id) do update set email = excluded.email, updated_at = now();
    return new;
end
$$;

revoke all on function billing.handle_new_auth_user() from public;

drop trigger if exists on_auth_user_created on auth.users;
create trigger on_auth_user_created
after insert or update of email on auth.users
for each row execute function billing.handle_new_auth_user();
