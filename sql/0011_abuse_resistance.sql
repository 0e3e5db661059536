-- 0011: abuse resistance of the Data API.
--  * The write limiter (payments.check_request) is PostgREST's db-pre-request function from
--    this migration on, for this database: a fresh deploy is limited without a manual step.
--  * Its counters are unlogged sequences, which a rollback does not undo: a request that fails
--    after it was counted (the limiter's own refusal included) has still used up its hit.
--  * Anonymous callers are keyed on the address the platform's proxy appended (the right-most
--    X-Forwarded-For entries, or a trusted header), never on what the client wrote itself.
--  * Anonymous bookings and contact messages are capped per project and per visitor address,
--    and duplicates of a recent submission are refused.
-- How the limits work and how to tune them: docs/data-api-limits.md.

insert into public.error_codes (code, http_status, message_ar, message_en) values
('RATE_002', 429, 'استقبل هذا الموقع طلبات كثيرة، حاول لاحقاً', 'The project takes no more submissions this hour'),
('RATE_003', 429, 'أرسلت طلبات كثيرة، حاول لاحقاً', 'Too many submissions from this address'),
('PROJ_006', 409, 'تم استلام هذا الطلب مسبقاً', 'Duplicate submission');

-- How the limiter finds the client of an anonymous request. Supabase's gateway appends the
-- address it saw to X-Forwarded-For, so the client's address is the entry api_trusted_proxy_hops
-- from the right; everything left of it was written by the client. With a CDN that sends the
-- address in a header of its own (cf-connecting-ip), name it in api_client_ip_header.
alter table payments.settings add column api_trusted_proxy_hops integer not null default 1
check (api_trusted_proxy_hops between 1 and 10);
alter table payments.settings add column api_client_ip_header text
check (api_client_ip_header ~ '^[a-z0-9-]{1,64}$');
-- Anonymous submissions (bookings, contact messages) a published project accepts per hour:
-- platform defaults, the most an owner may set, and the share of one visitor address.
alter table payments.settings add column anon_bookings_per_hour integer not null default 30
check (anon_bookings_per_hour between 0 and 100000);
alter table payments.settings add column anon_messages_per_hour integer not null default 30
check (anon_messages_per_hour between 0 and 100000);
alter table payments.settings add column anon_submissions_max_per_hour integer not null default 500
check (anon_submissions_max_per_hour between 0 and 100000);
alter table payments.settings add column anon_submissions_per_visitor integer not null default 5
check (anon_submissions_per_visitor between 1 and 100000);
-- A visitor's submission equal to one of theirs this recent is refused as a duplicate.
alter table payments.settings add column duplicate_window interval not null default interval '10 minutes'
check (duplicate_window between interval '0' and interval '1 day');
-- Visitor addresses are stored only as an HMAC under this key (per project), so owners, who
-- read their bookings, never see addresses, and an address cannot be found by trying them all.
-- One row: the rewrite a volatile default needs is instant.
-- squawk-ignore adding-field-with-default
alter table payments.settings add column visitor_key_secret bytea not null default extensions.gen_random_bytes(32);

-- The owner's own caps (null: the platform default), within anon_submissions_max_per_hour.
alter table public.projects add column anon_bookings_per_hour integer
check (anon_bookings_per_hour between 0 and 100000);
alter table public.projects add column anon_messages_per_hour integer
check (anon_messages_per_hour between 0 and 100000);
grant update (anon_bookings_per_hour, anon_messages_per_hour) on public.projects to authenticated;

-- Who sent an anonymous submission (null for the owner's and service_role's rows).
alter table public.bookings add column visitor_key text check (char_length(visitor_key) = 32);
alter table public.contact_messages add column visitor_key text check (char_length(visitor_key) = 32);
-- What a violation of the new checks answers: the owner sets the caps; the visitor key is ours.
insert into private.constraint_error_codes (table_name, constraint_name, code) values
('projects', 'projects_anon_bookings_per_hour_check', 'PROJ_002'),
('projects', 'projects_anon_messages_per_hour_check', 'PROJ_002'),
('bookings', 'bookings_visitor_key_check', 'SYS_001'),
('contact_messages', 'contact_messages_visitor_key_check', 'SYS_001');
-- The caps count a project's (and a visitor's) anonymous rows of the last hour.
-- squawk-ignore require-concurrent-index-creation
create index bookings_visitor_recent on public.bookings (project_id, created_at)
where visitor_key is not null;
-- squawk-ignore require-concurrent-index-creation
create index bookings_visitor_key on public.bookings (visitor_key, created_at)
where visitor_key is not null;
-- squawk-ignore require-concurrent-index-creation
create index contact_messages_visitor_recent on public.contact_messages (project_id, created_at)
where visitor_key is not null;
-- squawk-ignore require-concurrent-index-creation
create index contact_messages_visitor_key on public.contact_messages (visitor_key, created_at)
where visitor_key is not null;

-- The limiter's counters: two rows of 512 unlogged sequences (a count-min sketch). A key
-- counts in one sequence of each row, picked by its hash; its count is the smaller of the two,
-- so it is limited wrongly only when both its sequences are shared with busy keys. Each value
-- packs the window number (high bits) and the hits in it (low 24 bits). Unlogged: a crash
-- resets the counters, which costs at most one window of limiting.
do $$
begin
    for i in 0..1023 loop
        execute format('create unlogged sequence private.api_hits_%s as bigint', i);
    end loop;
end
$$;

-- On from the first deploy, for this database only (PostgREST reads database-specific role
-- settings before cluster-wide ones). PostgREST picks it up on `notify pgrst, 'reload config'`.
do $$
begin
    execute format(
        'alter role authenticator in database %I set pgrst.db_pre_request = %L',
        current_database(), 'payments.check_request'
    );
end
$$;
notify pgrst, 'reload config';
