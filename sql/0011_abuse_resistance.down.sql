-- Undoes 0011_abuse_resistance (development only). The functions added with it go too; the
-- function files of the matching older tree must be applied again by `kwq8 db migrate`.
do $$
begin
    execute format('alter role authenticator in database %I reset pgrst.db_pre_request', current_database());
end
$$;
notify pgrst, 'reload config';
drop trigger if exists bookings_throttle on public.bookings;
drop trigger if exists contact_messages_throttle on public.contact_messages;
drop trigger if exists projects_submission_caps on public.projects;
drop function if exists private.throttle_booking(), private.throttle_contact_message(),
private.begin_submission(uuid), private.refuse_over_caps(text, integer, integer, integer, integer),
private.check_submission_caps(), payments.visitor_key(uuid),
payments.client_address();
do $$
begin
    for i in 0..1023 loop
        execute format('drop sequence if exists private.api_hits_%s', i);
    end loop;
end
$$;
drop index if exists public.bookings_visitor_recent, public.bookings_visitor_key,
public.contact_messages_visitor_recent, public.contact_messages_visitor_key;
delete from private.constraint_error_codes
where constraint_name in (
    'projects_anon_bookings_per_hour_check', 'projects_anon_messages_per_hour_check', 'bookings_visitor_key_check',
    'contact_messages_visitor_key_check'
);
alter table public.contact_messages drop column visitor_key;
alter table public.bookings drop column visitor_key;
revoke update (anon_bookings_per_hour, anon_messages_per_hour) on public.projects from authenticated;
alter table public.projects drop column anon_messages_per_hour, drop column anon_bookings_per_hour;
alter table payments.settings drop column visitor_key_secret, drop column duplicate_window,
drop column anon_submissions_per_visitor, drop column anon_submissions_max_per_hour,
drop column anon_messages_per_hour, drop column anon_bookings_per_hour, drop column api_client_ip_header,
drop column api_trusted_proxy_hops;
delete from public.error_codes
where code in ('RATE_002', 'RATE_003', 'PROJ_006');
