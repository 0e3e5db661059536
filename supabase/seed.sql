-- Local seed data, loaded by `kwq8 stack start`, `kwq8 stack reset`, `supabase start` and
-- `supabase db reset` (never by migrate). Every seeded user signs in with the password
-- kwq8-dev-password (docs/local-development.md lists them); the passwords are bcrypt hashes from
-- pgcrypto, which Supabase Auth accepts, and each user has the email identity Supabase Auth
-- reads at sign-in. One user per plan, each with the plan's monthly credits; the free user has
-- only the sign-up grant. Noura runs a published salon site with bookings, a contact message
-- and images, and keeps an archived site (archived projects do not count against the quota);
-- Khaled has a draft restaurant site, which takes no bookings.

insert into auth.users (
    instance_id, id, email, aud, role, encrypted_password, email_confirmed_at, raw_app_meta_data,
    raw_user_meta_data, confirmation_token, recovery_token, email_change_token_new, email_change
)
select
    '00000000-0000-0000-0000-000000000000', u.id::uuid, u.email, 'authenticated', 'authenticated',
    extensions.crypt('kwq8-dev-password', extensions.gen_salt('bf')), now(),
    '{"provider": "email", "providers": ["email"]}', jsonb_build_object('full_name', u.full_name),
    -- Supabase Auth reads these as strings: null would fail its sign-in.
    '', '', '', ''
from (
    values
    ('5eed0000-0000-4000-8000-000000000001', 'noura@example.test', 'نورة العتيبي'),
    ('5eed0000-0000-4000-8000-000000000002', 'khaled@example.test', 'خالد الرشيد'),
    ('5eed0000-0000-4000-8000-000000000003', 'free@example.test', 'مستخدم مجاني'),
    ('5eed0000-0000-4000-8000-000000000004', 'pro@example.test', 'سارة الاحترافية'),
    ('5eed0000-0000-4000-8000-000000000005', 'enterprise@example.test', 'شركة المؤسسات')
) as u (id, email, full_name);

insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
select
    u.id::text, u.id, jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true),
    'email', null, now(), now()
from auth.users as u
where u.id::text like '5eed0000-%';

-- A subscription per plan, active for a month from now, with that month's credits.
with plan_of (user_id, plan) as (
    values
    ('5eed0000-0000-4000-8000-000000000001'::uuid, 'premium'),
    ('5eed0000-0000-4000-8000-000000000002'::uuid, 'basic'),
    ('5eed0000-0000-4000-8000-000000000004'::uuid, 'pro'),
    ('5eed0000-0000-4000-8000-000000000005'::uuid, 'enterprise')
),

subscribed as (
    insert into public.subscriptions (user_id, plan, status, current_period_start, current_period_end)
    select p.user_id, p.plan, 'active', now(), now() + interval '1 month' from plan_of as p
    returning user_id, plan, current_period_start, current_period_end
)

update public.users as u
set plan = s.plan, plan_period_start = s.current_period_start, plan_period_end = s.current_period_end
from subscribed as s
where u.id = s.user_id;

select billing.grant_monthly_credits(u.id, u.plan, u.plan_period_end, 'seed:monthly')
from public.users as u
where u.plan is not null and u.id::text like '5eed0000-%';

insert into public.projects (id, user_id, name, slug, subdomain, status, template, settings)
values
(
    '5eed0000-0000-4000-8000-0000000000a1', '5eed0000-0000-4000-8000-000000000001',
    'صالون الياسمين', 'yasmeen-salon', 'yasmeen-salon', 'published', 'salon',
    '{"language": "ar", "direction": "rtl", "theme": {"primary": "#7c3aed"}}'
),
(
    '5eed0000-0000-4000-8000-0000000000a2', '5eed0000-0000-4000-8000-000000000001',
    'متجر العطور (قديم)', 'perfume-old', 'noura-perfumes', 'archived', 'shop', '{}'
),
(
    '5eed0000-0000-4000-8000-0000000000b1', '5eed0000-0000-4000-8000-000000000002',
    'مطعم البحر', 'bahar', 'bahar-restaurant', 'draft', 'restaurant', '{"language": "ar"}'
);

-- Bookings are validated like any other: phones normalised to E.164, times in the future.
insert into public.bookings (project_id, customer_name, phone, email, service, starts_at, status, notes)
values
(
    '5eed0000-0000-4000-8000-0000000000a1', 'مريم الكندري', '5512 3456', 'mariam@example.test',
    'قص وتصفيف', date_trunc('hour', now()) + interval '1 day 10 hours', 'confirmed', null
),
(
    '5eed0000-0000-4000-8000-0000000000a1', 'Sara Ahmed', '+965 6698 7766', null,
    'Manicure', date_trunc('hour', now()) + interval '2 days 4 hours', 'pending', 'أول زيارة 🌸'
),
(
    '5eed0000-0000-4000-8000-0000000000a1', 'فاطمة', '0096599001122', null,
    'صبغة', date_trunc('hour', now()) + interval '5 days 6 hours', 'pending', null
);

insert into public.contact_messages (project_id, name, email, phone, subject, message)
values (
    '5eed0000-0000-4000-8000-0000000000a1', 'هيا', 'haya@example.test', null, 'ساعات العمل',
    'هل تفتحون يوم الجمعة؟'
);

insert into public.deployments (project_id, status, url, provider, provider_project_id, provider_deployment_id)
values (
    '5eed0000-0000-4000-8000-0000000000a1', 'ready', 'https://yasmeen-salon.kwq8.com', 'vercel',
    'prj_seed', 'dpl_seed'
);

insert into public.domains (project_id, fqdn, status, verification_records)
values (
    '5eed0000-0000-4000-8000-0000000000a1', 'yasmeen-salon.com.kw', 'pending',
    '[{"type": "TXT", "name": "_kwq8-challenge", "value": "seed-token"}]'
);

