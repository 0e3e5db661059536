-- Every auth user gets its public.users row in the same transaction as its sign-up, and keeps
-- its email in step. Runs as the table owner because Supabase Auth inserts as its own role.
-- A new user also gets the sign-up grant (billing.settings.signup_grant_credits promotional
-- credits expiring after signup_grant_ttl; 0 turns it off), once: the grant's ledger entry has
-- the server key 'srv:signup', unique per user, so a second run of the trigger finds it.
create or replace function billing.handle_new_auth_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_settings billing.settings;
begin
    insert into public.users (id, email)
    values (new.id, new.email)
    on conflict (id) do update set email = excluded.email, updated_at = now();
    if tg_op = 'INSERT' then
        select * into v_settings from billing.settings;
        if v_settings.signup_grant_credits > 0 and not exists (
            select from public.credit_transactions as t where t.user_id = new.id and t.idempotency_key = 'srv:signup'
        ) then
            perform billing.add_grant(
                new.id, 'promo', v_settings.signup_grant_credits, billing.clock() + v_settings.signup_grant_ttl,
                null, 'Welcome credits', 'srv:signup',
                billing.fingerprint('grant', jsonb_build_object('reason', 'signup')),
                jsonb_build_object('reason', 'signup')
            );
        end if;
    end if;
    return new;
end
$$;

revoke all on function billing.handle_new_auth_user() from public;
-- The trigger itself is created once, by sql/0002_credits.sql: dropping a trigger on auth.users
-- needs ownership of the table, which only Supabase Auth has, so this file must not recreate it.
