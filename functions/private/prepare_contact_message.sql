-- Tidy a contact message before its checks: trimmed text (blank lines around the message too),
-- phone in E.164, empty optional fields null (updated_at: private.touch_updated_at).
create or replace function private.prepare_contact_message()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    new.name := btrim(new.name);
    new.email := nullif(btrim(new.email), '');
    new.phone := private.normalize_phone(nullif(btrim(new.phone), ''));
    new.subject := nullif(btrim(new.subject), '');
    new.message := btrim(new.message, e' \t\r\n');
    return new;
end
$$;

revoke all on function private.prepare_contact_message() from public;

drop trigger if exists contact_messages_prepare on public.contact_messages;
create trigger contact_messages_prepare
before insert or update on public.contact_messages
for each row execute function private.prepare_contact_message();
