-- 0010: the frontend contract. What the browser can meet is a catalogued code with an Arabic
-- message, and what it calls has a precise type:
--  * error codes for what reaches the browser besides the RPCs' own refusals: Supabase Auth
--    failures (AUTH_007..015), network failures (NET_001), raw Postgres errors a direct table
--    write or a malformed argument causes (VAL_003..010) and the client tables' rules
--    (BOOK_, MSG_, PROJ_);
--  * every check constraint of an exposed table has an explicit name, and every check, unique
--    and foreign key constraint of one maps to a code (private.constraint_error_codes). The
--    tables clients write directly validate a row against them before it is stored
--    (private.raise_constraint_error, the <table>_validate triggers in functions/private), so
--    a bad phone answers BOOK_001 in Arabic instead of 23514 in English; the generated
--    types/errors.ts carries the same map for the violations no trigger sees first;
--  * the credit RPCs return named composite types (the JSON they answer is unchanged), so the
--    generated Database type knows their results.

insert into public.error_codes (code, http_status, message_ar, message_en) values
('AUTH_007', 403, 'يرجى تأكيد بريدك الإلكتروني أولاً', 'Email not confirmed'),
('AUTH_008', 422, 'كلمة المرور ضعيفة', 'Weak password'),
('AUTH_009', 404, 'المستخدم غير موجود', 'User not found'),
('AUTH_010', 403, 'إنشاء الحسابات أو طريقة الدخول هذه غير متاحة', 'Sign-up or this sign-in method is disabled'),
('AUTH_011', 403, 'الرابط أو الرمز غير صالح أو منتهي الصلاحية', 'Link or code is invalid or has expired'),
('AUTH_012', 403, 'ليست لديك صلاحية لهذا الإجراء', 'Not allowed'),
('AUTH_013', 403, 'يلزم تحقق إضافي لإتمام هذا الإجراء', 'Additional verification required'),
('AUTH_014', 403, 'هذا الحساب موقوف', 'Account suspended'),
('AUTH_015', 400, 'تعذر إتمام تسجيل الدخول، حاول مرة أخرى', 'Sign-in failed'),
('NET_001', 503, 'تعذر الاتصال بالخادم، تحقق من اتصالك بالإنترنت', 'Network error'),
('VAL_003', 400, 'رقم الهاتف غير صالح', 'Invalid phone number'),
('VAL_004', 400, 'البريد الإلكتروني غير صالح', 'Invalid email address'),
('VAL_005', 400, 'النص فارغ أو أطول من المسموح', 'Text is empty or too long'),
('VAL_006', 400, 'القيمة غير مسموحة', 'Value not allowed'),
('VAL_007', 400, 'صيغة القيمة غير صالحة', 'Malformed value'),
('VAL_008', 409, 'العنصر المرتبط غير موجود', 'Referenced record does not exist'),
('VAL_009', 409, 'القيمة مستخدمة مسبقاً', 'Value already in use'),
('VAL_010', 400, 'حقل مطلوب مفقود', 'Required field missing'),
('BOOK_001', 400, 'رقم هاتف الحجز غير صالح', 'Invalid booking phone number'),
('BOOK_002', 400, 'بيانات الحجز غير صالحة', 'Invalid booking details'),
('MSG_001', 400, 'يرجى إدخال البريد الإلكتروني أو رقم الهاتف', 'A contact message needs an email or a phone'),
('MSG_002', 400, 'بيانات الرسالة غير صالحة', 'Invalid contact message'),
('PROJ_002', 400, 'بيانات المشروع غير صالحة', 'Invalid project details'),
('PROJ_003', 400, 'النطاق الفرعي غير صالح أو محجوز', 'Subdomain is invalid or reserved'),
('PROJ_004', 409, 'النطاق الفرعي مستخدم مسبقاً', 'Subdomain already taken'),
('PROJ_005', 409, 'لديك مشروع بنفس الاسم المختصر', 'Project slug already used');

-- Names that say what a rule is, instead of <table>_check<n> (which also shift when a check is
-- added or dropped). Renaming takes a brief ACCESS EXCLUSIVE lock and scans nothing.
-- squawk-ignore renaming-object
alter table public.users rename constraint users_check to users_plan_has_period_end;
-- squawk-ignore renaming-object
alter table public.users rename constraint users_check1 to users_period_order;
alter table public.credit_transactions
-- squawk-ignore renaming-object
rename constraint credit_transactions_check to credit_transactions_amount_nonzero;
alter table public.credit_transactions
-- squawk-ignore renaming-object
rename constraint credit_transactions_check1 to credit_transactions_key_fingerprint;
-- squawk-ignore renaming-object
alter table public.contact_messages rename constraint contact_messages_check to contact_messages_reachable;
-- squawk-ignore renaming-object
alter table public.deployments rename constraint deployments_check to deployments_ready_has_url;
-- squawk-ignore renaming-object
alter table public.domains rename constraint domains_check to domains_active_verified;
-- squawk-ignore renaming-object
alter table public.payments rename constraint payments_check1 to payments_closed_at;
-- squawk-ignore renaming-object
alter table public.payments rename constraint payments_check3 to payments_upgrade_proration;
-- squawk-ignore renaming-object
alter table public.subscriptions rename constraint subscriptions_check to subscriptions_period_order;
-- squawk-ignore renaming-object
alter table public.subscriptions rename constraint subscriptions_check1 to subscriptions_ended_at;

-- Which code a violated constraint answers. Rules of the tables only servers write are bugs of
-- ours when broken (SYS_001), a few say what the caller can act on.
create table private.constraint_error_codes (
    table_name text not null,
    constraint_name text not null,
    code text not null references public.error_codes (code),
    primary key (table_name, constraint_name)
);
alter table private.constraint_error_codes enable row level security;

insert into private.constraint_error_codes (table_name, constraint_name, code) values
('projects', 'projects_name_check', 'PROJ_002'),
('projects', 'projects_settings_check', 'PROJ_002'),
('projects', 'projects_slug_check', 'PROJ_002'),
('projects', 'projects_status_check', 'PROJ_002'),
('projects', 'projects_template_check', 'PROJ_002'),
('projects', 'projects_subdomain_check', 'PROJ_003'),
('projects', 'projects_subdomain_key', 'PROJ_004'),
('projects', 'projects_user_id_slug_id_key', 'PROJ_005'),
('projects', 'projects_user_id_fkey', 'VAL_008'),
('bookings', 'bookings_phone_check', 'BOOK_001'),
('bookings', 'bookings_customer_name_check', 'BOOK_002'),
('bookings', 'bookings_email_check', 'BOOK_002'),
('bookings', 'bookings_notes_check', 'BOOK_002'),
('bookings', 'bookings_service_check', 'BOOK_002'),
('bookings', 'bookings_status_check', 'BOOK_002'),
('bookings', 'bookings_project_id_fkey', 'VAL_008'),
('contact_messages', 'contact_messages_reachable', 'MSG_001'),
('contact_messages', 'contact_messages_email_check', 'VAL_004'),
('contact_messages', 'contact_messages_message_check', 'MSG_002'),
('contact_messages', 'contact_messages_name_check', 'MSG_002'),
('contact_messages', 'contact_messages_phone_check', 'VAL_003'),
('contact_messages', 'contact_messages_status_check', 'MSG_002'),
('contact_messages', 'contact_messages_subject_check', 'MSG_002'),
('contact_messages', 'contact_messages_project_id_fkey', 'VAL_008'),
('users', 'users_credits_balance_check', 'CREDIT_001'),
('users', 'users_plan_has_period_end', 'SYS_001'),
('users', 'users_period_order', 'SYS_001'),
('users', 'users_id_fkey', 'CREDIT_014'),
('users', 'users_plan_fkey', 'SYS_001'),
('credit_transactions', 'credit_transactions_balance_after_check', 'CREDIT_001'),
('credit_transactions', 'credit_transactions_action_check', 'SYS_001'),
('credit_transactions', 'credit_transactions_amount_nonzero', 'SYS_001'),
('credit_transactions', 'credit_transactions_key_fingerprint', 'SYS_001'),
('credit_transactions', 'credit_transactions_description_check', 'SYS_001'),
('credit_transactions', 'credit_transactions_idempotency_key_check', 'SYS_001'),
('credit_transactions', 'credit_transactions_transaction_type_check', 'SYS_001'),
('credit_transactions', 'credit_transactions_hold_fk', 'SYS_001'),
('credit_transactions', 'credit_transactions_refund_of_fkey', 'SYS_001'),
('deployments', 'deployments_ready_has_url', 'SYS_001'),
('deployments', 'deployments_error_message_check', 'SYS_001'),
('deployments', 'deployments_provider_check', 'SYS_001'),
('deployments', 'deployments_provider_deployment_id_check', 'SYS_001'),
('deployments', 'deployments_provider_project_id_check', 'SYS_001'),
('deployments', 'deployments_status_check', 'SYS_001'),
('deployments', 'deployments_url_check', 'SYS_001'),
('deployments', 'deployments_project_id_fkey', 'VAL_008'),
('domains', 'domains_active_verified', 'SYS_001'),
('domains', 'domains_fqdn_check', 'SYS_001'),
('domains', 'domains_fqdn_key', 'DOM_001'),
('domains', 'domains_registrar_check', 'SYS_001'),
('domains', 'domains_registrar_domain_id_check', 'SYS_001'),
('domains', 'domains_status_check', 'SYS_001'),
('domains', 'domains_verification_records_check', 'SYS_001'),
('domains', 'domains_project_id_fkey', 'VAL_008'),
('payments', 'payments_amount_kwd_check', 'SYS_001'),
('payments', 'payments_captured_amount_kwd_check', 'SYS_001'),
('payments', 'payments_captured_at', 'SYS_001'),
('payments', 'payments_captured_currency_check', 'SYS_001'),
('payments', 'payments_closed_at', 'SYS_001'),
('payments', 'payments_upgrade_proration', 'SYS_001'),
('payments', 'payments_checked_result_check', 'SYS_001'),
('payments', 'payments_credits_granted_check', 'SYS_001'),
('payments', 'payments_currency_check', 'SYS_001'),
('payments', 'payments_fulfilment_check', 'SYS_001'),
('payments', 'payments_fulfilment_state', 'SYS_001'),
('payments', 'payments_idempotency_key_check', 'SYS_001'),
('payments', 'payments_kind_check', 'SYS_001'),
('payments', 'payments_last_error_check', 'SYS_001'),
('payments', 'payments_order_id_check', 'SYS_001'),
('payments', 'payments_order_id_key', 'SYS_001'),
('payments', 'payments_payment_method_check', 'SYS_001'),
('payments', 'payments_payment_url_check', 'SYS_001'),
('payments', 'payments_plan_fkey', 'SYS_001'),
('payments', 'payments_proration_check', 'SYS_001'),
('payments', 'payments_provider_payment_id_check', 'SYS_001'),
('payments', 'payments_status_check', 'SYS_001'),
('payments', 'payments_status_reason_check', 'SYS_001'),
('payments', 'payments_track_id_check', 'SYS_001'),
('payments', 'payments_track_id_key', 'SYS_001'),
('payments', 'payments_user_id_fkey', 'SYS_001'),
('subscriptions', 'subscriptions_period_order', 'SYS_001'),
('subscriptions', 'subscriptions_ended_at', 'SYS_001'),
('subscriptions', 'subscriptions_last_payment_id_fkey', 'SYS_001'),
('subscriptions', 'subscriptions_plan_fkey', 'SYS_001'),
('subscriptions', 'subscriptions_status_check', 'SYS_001'),
('subscriptions', 'subscriptions_user_id_fkey', 'SYS_001'),
('subscriptions', 'subscriptions_user_id_key', 'SYS_001'),
('plans', 'plans_billing_period_check', 'SYS_001'),
('plans', 'plans_code_check', 'SYS_001'),
('plans', 'plans_daily_bonus_check', 'SYS_001'),
('plans', 'plans_max_projects_check', 'SYS_001'),
('plans', 'plans_monthly_credits_check', 'SYS_001'),
('plans', 'plans_price_kwd_check', 'SYS_001'),
('plans', 'plans_rollover_periods_check', 'SYS_001'),
('action_costs', 'action_costs_action_check', 'SYS_001'),
('action_costs', 'action_costs_allowed_plans_check', 'SYS_001'),
('action_costs', 'action_costs_cost_check', 'SYS_001'),
('error_codes', 'error_codes_code_check', 'SYS_001'),
('error_codes', 'error_codes_http_status_check', 'SYS_001');

-- The shape of a catalogued error inside a result (release_hold's GEN_001): the same fields as
-- the error body PostgREST answers, so toKwq8Error reads both.
create type public.api_error as (code text, message text, details text, hint text);

-- What the credit RPCs answer. The fields are those of the JSON objects they answered before,
-- in that order.
create type public.credit_spend as (transaction_id uuid, charged numeric, balance numeric);
create type public.credit_grant as (
    transaction_id uuid, grant_id uuid, amount numeric, expires_at timestamptz, balance numeric
);
create type public.credit_hold as (hold_id uuid, amount numeric, expires_at timestamptz, balance numeric);
create type public.credit_capture as (
    transaction_id uuid, hold_id uuid, charged numeric, released numeric, balance numeric
);
-- failure_reason and error are set when a generation failed (error: GEN_001).
create type public.credit_release as (
    transaction_id uuid, hold_id uuid, status text, released numeric, balance numeric,
    failure_reason text, error public.api_error
);
create type public.credit_refund as (transaction_id uuid, refunded numeric, forfeited numeric, balance numeric);
create type public.credit_summary_plan as (
    code text, name_ar text, name_en text, monthly_credits numeric, daily_bonus numeric
);
create type public.credit_summary_bonus as (amount numeric, remaining numeric, resets_at timestamptz);
create type public.credit_summary_hold as (hold_id uuid, action text, amount numeric, expires_at timestamptz);
create type public.credit_summary_grant as (source text, remaining numeric, expires_at timestamptz);
create type public.credit_summary as (
    balance numeric,
    plan public.credit_summary_plan,
    period_end timestamptz,
    daily_bonus public.credit_summary_bonus,
    held numeric,
    active_holds public.credit_summary_hold [],
    grants public.credit_summary_grant []
);
grant usage on type public.api_error, public.credit_spend, public.credit_grant, public.credit_hold,
public.credit_capture, public.credit_release, public.credit_refund, public.credit_summary_plan,
public.credit_summary_bonus, public.credit_summary_hold, public.credit_summary_grant,
public.credit_summary to anon, authenticated, service_role;

-- A function's result type cannot change in place: the function files create them again.
-- squawk-ignore ban-drop-function
drop function if exists public.spend_credits(text, text, text);
-- squawk-ignore ban-drop-function
drop function if exists public.deduct_credits(uuid, numeric, text, text);
-- squawk-ignore ban-drop-function
drop function if exists public.grant_credits(uuid, numeric, text, timestamptz, text, text);
-- squawk-ignore ban-drop-function
drop function if exists public.reserve_credits(text, text);
-- squawk-ignore ban-drop-function
drop function if exists public.capture_hold(uuid, numeric);
-- squawk-ignore ban-drop-function
drop function if exists public.release_hold(uuid);
-- squawk-ignore ban-drop-function
drop function if exists billing.release(uuid);
-- squawk-ignore ban-drop-function
drop function if exists public.refund_transaction(uuid, text, text);
-- squawk-ignore ban-drop-function
drop function if exists public.get_credit_summary();
