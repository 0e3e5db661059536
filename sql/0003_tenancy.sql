-- 0003: tenancy. KWq8 users own projects (the websites they build); visitors of a published site
-- leave bookings and contact messages in it. Every row of client data carries the project_id it
-- is isolated by (indexed), and only the project's owner reads it.
--
-- Who may do what is decided in three layers, each visible in `kwq8 db policies`:
--  * grants: what a role may touch at all, column by column where it matters (owners cannot
--    write projects.user_id or re-point client data at another project; visitors write only the
--    fields of a form; deployments and domains are written by service_role alone);
--  * RLS policies (policies/*.sql): which rows;
--  * constraints and triggers: what a row may contain (formats, lengths, no booking in the
--    past, the plan's project quota), whoever writes it, service_role included.
--
-- Triggers and helpers live in functions/projects and functions/private (applied after this
-- file); the policies in policies/projects.sql, bookings.sql, contact_messages.sql,
-- deployments.sql, domains.sql and storage_objects.sql.

insert into public.error_codes (code, http_status, message_ar, message_en) values
('PROJ_001', 403, 'وصلت إلى الحد الأقصى لعدد المشاريع في باقتك', 'Project quota reached');

-- The websites. user_id is the owner and the tenant key every policy starts from.
create table public.projects (
    id uuid primary key default extensions.gen_random_uuid(),
    user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
    name text not null check (char_length(name) between 1 and 100 and name !~ '[[:cntrl:]]'),
    -- The project's name in the owner's dashboard URLs: unique per owner.
    slug text not null check (char_length(slug) <= 63 and slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    -- <subdomain>.kwq8.com: one DNS label, unique across KWq8, never a reserved name; no "--"
    -- (which would allow punycode look-alikes such as xn--...).
    subdomain text not null unique check (
        char_length(subdomain) between 3 and 63
        and subdomain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$'
        and subdomain !~ '--'
        and subdomain not in (
            'www', 'api', 'app', 'admin', 'auth', 'dashboard', 'mail', 'smtp', 'imap', 'ftp', 'cdn',
            'static', 'assets', 'storage', 'status', 'docs', 'help', 'support', 'blog', 'billing',
            'pay', 'dev', 'staging', 'test', 'kwq8', 'supabase', 'ns1', 'ns2'
        )
    ),
    status text not null default 'draft' check (status in ('draft', 'published', 'archived')),
    template text check (template ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    settings jsonb not null default '{}'::jsonb
    check (jsonb_typeof(settings) = 'object' and octet_length(settings::text) <= 65536),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- Also the index behind every owner lookup (user_id leads); with id included, the policies'
    -- helper (private.owned_project_ids) reads an owner's project ids from the index alone.
    unique (user_id, slug) include (id)
);

-- Client data: what visitors of a published site submit. Phones are stored in E.164
-- (+96555123456); the prepare trigger normalises the formats people type.
create table public.bookings (
    id uuid primary key default extensions.gen_random_uuid(),
    project_id uuid not null references public.projects (id) on delete cascade,
    customer_name text not null
    check (char_length(customer_name) between 1 and 100 and customer_name !~ '[[:cntrl:]]'),
    phone text not null check (
        phone ~ '^\+[1-9][0-9]{7,14}$'
        and (phone !~ '^\+965' or phone ~ '^\+965[2569][0-9]{7}$')
    ),
    email text check (
        char_length(email) <= 254
        and email ~ (
            '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@'
            || '([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'
        )
    ),
    service text not null check (char_length(service) between 1 and 100 and service !~ '[[:cntrl:]]'),
    starts_at timestamptz not null,
    status text not null default 'pending'
    check (status in ('pending', 'confirmed', 'cancelled', 'completed', 'no_show')),
    -- Free text may span lines; other control characters are refused.
    notes text check (char_length(notes) <= 2000 and notes !~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]'),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
-- The owner's list (latest first) and the tenant key of every policy.
create index bookings_project_starts on public.bookings (project_id, starts_at desc);

-- A generated site's contact form.
create table public.contact_messages (
    id uuid primary key default extensions.gen_random_uuid(),
    project_id uuid not null references public.projects (id) on delete cascade,
    name text not null check (char_length(name) between 1 and 100 and name !~ '[[:cntrl:]]'),
    email text check (
        char_length(email) <= 254
        and email ~ (
            '^[A-Za-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@'
            || '([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$'
        )
    ),
    phone text check (
        phone ~ '^\+[1-9][0-9]{7,14}$'
        and (phone !~ '^\+965' or phone ~ '^\+965[2569][0-9]{7}$')
    ),
    subject text check (char_length(subject) between 1 and 200 and subject !~ '[[:cntrl:]]'),
    message text not null
    check (char_length(message) between 1 and 5000 and message !~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]'),
    status text not null default 'new' check (status in ('new', 'read', 'replied', 'archived')),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- A message nobody can answer is spam.
    check (email is not null or phone is not null)
);
create index contact_messages_project_created on public.contact_messages (project_id, created_at desc);

-- Deployments of a project's site; written by the deploy service (service_role) only.
create table public.deployments (
    id uuid primary key default extensions.gen_random_uuid(),
    project_id uuid not null references public.projects (id) on delete cascade,
    status text not null default 'queued' check (status in ('queued', 'building', 'ready', 'failed', 'cancelled')),
    url text check (char_length(url) <= 2048 and url ~ '^https://[^[:space:]]+$'),
    provider text not null check (provider ~ '^[a-z][a-z0-9_]{1,30}$'),
    provider_project_id text check (char_length(provider_project_id) between 1 and 200),
    provider_deployment_id text check (char_length(provider_deployment_id) between 1 and 200),
    error_message text check (char_length(error_message) <= 2000),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (status <> 'ready' or url is not null)
);
create index deployments_project_created on public.deployments (project_id, created_at desc);
create unique index deployments_provider_id on public.deployments (provider, provider_deployment_id)
where provider_deployment_id is not null;

-- Custom domains of a project; written by the domain service (service_role) only: the
-- verification state in particular is never the client's to set.
create table public.domains (
    id uuid primary key default extensions.gen_random_uuid(),
    project_id uuid not null references public.projects (id) on delete cascade,
    -- Lower-case ASCII (IDNs in punycode), at least two labels, never under kwq8.com.
    fqdn text not null unique check (
        char_length(fqdn) <= 253
        and fqdn ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})$'
        and fqdn !~ '(^|\.)kwq8\.com$'
    ),
    status text not null default 'pending' check (status in ('pending', 'verifying', 'active', 'failed')),
    -- DNS records the owner must create, e.g. [{"type": "TXT", "name": "_kwq8", "value": "..."}].
    verification_records jsonb not null default '[]'::jsonb check (jsonb_typeof(verification_records) = 'array'),
    verified_at timestamptz,
    registrar text check (registrar ~ '^[a-z][a-z0-9_]{1,30}$'),
    registrar_domain_id text check (char_length(registrar_domain_id) between 1 and 200),
    registration_expires_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    check (status <> 'active' or verified_at is not null)
);
create index domains_project on public.domains (project_id);

alter table public.projects enable row level security;
alter table public.bookings enable row level security;
alter table public.contact_messages enable row level security;
alter table public.deployments enable row level security;
alter table public.domains enable row level security;

-- Grants. Column lists keep what no policy can express: owners never write projects.user_id
-- after creation, nor the project_id of client data (no re-pointing a row at another tenant);
-- visitors send the fields of a form and nothing else (no status, no id); deployment and
-- domain state is service_role's alone. anon has no SELECT anywhere here, so its inserts
-- are made without RETURNING (PostgREST `Prefer: return=minimal`).
grant select, delete on public.projects to authenticated;
grant insert (user_id, name, slug, subdomain, status, template, settings) on public.projects to authenticated;
grant update (name, slug, subdomain, status, template, settings) on public.projects to authenticated;

grant insert (project_id, customer_name, phone, email, service, starts_at, notes) on public.bookings to anon;
grant select, delete on public.bookings to authenticated;
grant insert (project_id, customer_name, phone, email, service, starts_at, status, notes)
on public.bookings to authenticated;
grant update (customer_name, phone, email, service, starts_at, status, notes) on public.bookings to authenticated;

grant insert (project_id, name, email, phone, subject, message) on public.contact_messages to anon, authenticated;
grant select, delete on public.contact_messages to authenticated;
grant update (status) on public.contact_messages to authenticated;

grant select on public.deployments, public.domains to authenticated;

grant select, insert, update, delete
on public.projects, public.bookings, public.contact_messages, public.deployments, public.domains
to service_role;

-- Project assets in Supabase Storage: <project_id>/... ; <project_id>/public/... is what a
-- published site shows to everyone. Private bucket: every read goes through the policies.
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values (
    'project-assets', 'project-assets', false, 10485760,
    array['image/*', 'font/*', 'application/pdf', 'video/mp4', 'video/webm']
);
