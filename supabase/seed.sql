-- Local seed data, loaded by `kwq8 stack start` and `kwq8 stack reset` (never by migrate).
-- Two KWq8 users (the sign-up trigger creates their public.users rows): Noura runs a published
-- salon site with bookings and a contact message, and keeps an archived site (archived projects
-- do not count against the quota); Khaled has a draft restaurant site, which takes no bookings.

insert into auth.users (id, email, aud, role, raw_app_meta_data, raw_user_meta_data, email_confirmed_at)
values
(
    '5eed0000-0000-4000-8000-000000000001', 'noura@example.test', 'authenticated', 'authenticated',
    '{"provider": "email", "providers": ["email"]}', '{"full_name": "نورة العتيبي"}', now()
),
(
    '5eed0000-0000-4000-8000-000000000002', 'khaled@example.test', 'authenticated', 'authenticated',
    '{"provider": "email", "providers": ["email"]}', '{"full_name": "خالد الرشيد"}', now()
);

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

-- A demo user for a new operator's first calls (`kwq8 token` signs for them by default): an
-- active Basic plan for a month and its 100 monthly credits, so `spend_credits` succeeds at once.
insert into auth.users (id, email, aud, role, raw_app_meta_data, raw_user_meta_data, email_confirmed_at)
values (
    '5eed0000-0000-4000-8000-000000000003', 'demo@kwq8.test', 'authenticated', 'authenticated',
    '{"provider": "email", "providers": ["email"]}', '{"full_name": "KWq8 Demo"}', now()
);

update public.users
set plan = 'basic', plan_period_start = now(), plan_period_end = now() + interval '1 month'
where id = '5eed0000-0000-4000-8000-000000000003';

select billing.grant_credits(
    '5eed0000-0000-4000-8000-000000000003', 100, 'monthly', now() + interval '1 month',
    'seed:demo-monthly', 'Basic plan monthly credits (local seed)'
);
