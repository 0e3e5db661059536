-- Anonymous submissions (visitors' bookings and contact messages) are capped, so a script
-- cannot pour rows into one project: per project and hour at most the owner's cap (projects.
-- anon_bookings_per_hour / anon_messages_per_hour, else the platform default in
-- ratelimit.settings, never above settings.anon_submissions_max_per_hour), and per visitor
-- address settings.anon_submissions_per_visitor; over either the insert fails with RATE_002 or
-- RATE_003 (HTTP 429). A visitor's submission equal to one of the project's recent anonymous
-- ones (same phone or email, and the same slot or message, within settings.duplicate_window)
-- is refused as PROJ_006 (409) instead of being stored twice. The owner's writes (and
-- service_role's) are neither capped nor counted. Counts are of stored rows, so what failed is
-- not counted here (the Data API limiter counts every request, failed or not).
--
-- SECURITY DEFINER: visitors cannot read the rows being counted. An advisory lock per project
-- serialises its anonymous inserts, so concurrent ones cannot overshoot a cap.
create or replace function private.throttle_booking()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_settings ratelimit.settings;
    v_cap integer;
begin
    if current_setting('role', true) is distinct from 'anon' then
        return new;
    end if;
    select * into v_settings from ratelimit.settings;
    new.visitor_key := private.begin_submission(new.project_id);
    if exists (
        select from public.bookings as b
        where b.project_id = new.project_id and b.visitor_key is not null
            and b.created_at > now() - v_settings.duplicate_window
            and b.starts_at = new.starts_at and (b.phone = new.phone or b.email = new.email)
    ) then
        perform private.raise_error('PROJ_006', 'a booking for this slot and contact was just received');
    end if;
    select coalesce(p.anon_bookings_per_hour, v_settings.anon_bookings_per_hour) into v_cap
    from public.projects as p where p.id = new.project_id;
    perform private.refuse_over_caps(
        'bookings',
        least(v_cap, v_settings.anon_submissions_max_per_hour),
        (select count(*) from (
            select from public.bookings as b
            where b.project_id = new.project_id and b.visitor_key is not null
                and b.created_at > now() - interval '1 hour'
            limit v_cap
        ) as recent)::integer,
        v_settings.anon_submissions_per_visitor,
        (select count(*) from (
            select from public.bookings as b
            where b.visitor_key = new.visitor_key and b.created_at > now() - interval '1 hour'
            limit v_settings.anon_submissions_per_visitor
        ) as mine)::integer
    );
    return new;
end
$$;

create or replace function private.throttle_contact_message()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_settings ratelimit.settings;
    v_cap integer;
begin
    if current_setting('role', true) is distinct from 'anon' then
        return new;
    end if;
    select * into v_settings from ratelimit.settings;
    new.visitor_key := private.begin_submission(new.project_id);
    if exists (
        select from public.contact_messages as m
        where m.project_id = new.project_id and m.visitor_key is not null
            and m.created_at > now() - v_settings.duplicate_window
            and m.message = new.message and (m.phone = new.phone or m.email = new.email)
    ) then
        perform private.raise_error('PROJ_006', 'this message was just received');
    end if;
    select coalesce(p.anon_messages_per_hour, v_settings.anon_messages_per_hour) into v_cap
    from public.projects as p where p.id = new.project_id;
    perform private.refuse_over_caps(
        'messages',
        least(v_cap, v_settings.anon_submissions_max_per_hour),
        (select count(*) from (
            select from public.contact_messages as m
            where m.project_id = new.project_id and m.visitor_key is not null
                and m.created_at > now() - interval '1 hour'
            limit v_cap
        ) as recent)::integer,
        v_settings.anon_submissions_per_visitor,
        (select count(*) from (
            select from public.contact_messages as m
            where m.visitor_key = new.visitor_key and m.created_at > now() - interval '1 hour'
            limit v_settings.anon_submissions_per_visitor
        ) as mine)::integer
    );
    return new;
end
$$;

-- Serialises the project's anonymous submissions (so counts cannot race past a cap) and
-- returns the visitor's key.
create or replace function private.begin_submission(p_project_id uuid)
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
    perform pg_advisory_xact_lock(hashtextextended('kwq8:submissions:' || p_project_id::text, 0));
    return ratelimit.visitor_key(p_project_id);
end
$$;

create or replace function private.refuse_over_caps(
    p_noun text, p_cap integer, p_recent integer, p_per_visitor integer, p_mine integer
)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
    if p_recent >= p_cap then
        perform private.raise_error('RATE_002', format('at most %s %s an hour', p_cap, p_noun), 'retry within an hour');
    end if;
    if p_mine >= p_per_visitor then
        perform private.raise_error(
            'RATE_003', format('at most %s %s an hour from one address', p_per_visitor, p_noun), 'retry within an hour'
        );
    end if;
end
$$;

-- An owner's caps are theirs to lower or raise, up to the platform's maximum.
create or replace function private.check_submission_caps()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
    v_max integer := (select s.anon_submissions_max_per_hour from ratelimit.settings as s);
begin
    if new.anon_bookings_per_hour > v_max or new.anon_messages_per_hour > v_max then
        perform private.raise_error('VAL_001', format('submission caps are at most %s an hour', v_max));
    end if;
    return new;
end
$$;

revoke all on function private.throttle_booking(), private.throttle_contact_message(),
private.begin_submission(uuid), private.refuse_over_caps(text, integer, integer, integer, integer),
private.check_submission_caps() from public;

-- After the prepare triggers (alphabetical order), so duplicates compare normalised phones.
drop trigger if exists bookings_throttle on public.bookings;
create trigger bookings_throttle
before insert on public.bookings
for each row execute function private.throttle_booking();

drop trigger if exists contact_messages_throttle on public.contact_messages;
create trigger contact_messages_throttle
before insert on public.contact_messages
for each row execute function private.throttle_contact_message();

drop trigger if exists projects_submission_caps on public.projects;
create trigger projects_submission_caps
before insert or update of anon_bookings_per_hour, anon_messages_per_hour on public.projects
for each row execute function private.check_submission_caps();
