-- The error catalogue is public: the frontend maps codes to Arabic messages with it.
drop policy if exists error_codes_read on public.error_codes;
create policy error_codes_read on public.error_codes
for select
to anon, authenticated
using (true);
