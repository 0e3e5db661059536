-- Registrant contacts: the owner reads their own; writes go through public.set_domain_contact.
drop policy if exists domain_contacts_owner_read on public.domain_contacts;
create policy domain_contacts_owner_read on public.domain_contacts
for select
to authenticated
using (user_id = (select auth.uid()));
