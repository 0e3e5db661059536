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
-- The trigger itself is created once, by sql/0002_credits.sql: dropping a trigger on auth.users
-- needs ownership of the table, which only Supabase Auth has, so this file must not recreate it.
