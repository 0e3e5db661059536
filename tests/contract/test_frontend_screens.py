"""The screens of a frontend developer's first week: seeded sign-in, the sign-up grant, the
dashboard's usage and Arabic ledger text, and the realtime publication under RLS."""

from __future__ import annotations

import tomllib
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from kwq8.db import Target, connect
from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..credit_helpers import SERVICE, audit_clean, expect_error, key

ROOT = Path(__file__).resolve().parents[2]
SEED_PASSWORD = "kwq8-dev-password"
# email -> (plan, monthly credits)
SEEDED = {
    "noura@example.test": ("premium", Decimal("350")),
    "khaled@example.test": ("basic", Decimal("100")),
    "free@example.test": (None, Decimal("0")),
    "pro@example.test": ("pro", Decimal("200")),
    "enterprise@example.test": ("enterprise", Decimal("500")),
}


def _signup_grant_on(db: TestDatabase, credits: str = "10", ttl: str = "14 days") -> None:
    db.sql("update billing.settings set signup_grant_credits = %s, signup_grant_ttl = %s::interval", (credits, ttl))


# --------------------------------------------------------------------------- 2. seed users


def test_seeded_users_sign_in_with_the_documented_password_and_have_their_plans_credits(
    kwq8_db: TestDatabase,
) -> None:
    db = kwq8_db
    db.sql("update billing.settings set signup_grant_credits = 10")  # the product's default
    db.sql((ROOT / "supabase" / "seed.sql").read_text())
    rows = db.sql(
        "select u.email, u.encrypted_password, u.instance_id::text, u.confirmation_token, "
        "i.provider, i.provider_id, i.email as identity_email, i.identity_data ->> 'sub' as sub, u.id::text "
        "from auth.users as u left join auth.identities as i on i.user_id = u.id order by u.email"
    )
    assert {r["email"] for r in rows} == set(SEEDED)
    for row in rows:
        # What Supabase Auth checks at sign-in: a bcrypt ($2a$) hash and the email identity.
        assert row["encrypted_password"].startswith("$2a$")
        assert db.scalar(
            "select extensions.crypt(%s, %s) = %s",
            (SEED_PASSWORD, row["encrypted_password"], row["encrypted_password"]),
        )
        assert not db.scalar(
            "select extensions.crypt('wrong', %s) = %s", (row["encrypted_password"], row["encrypted_password"])
        )
        assert row["instance_id"] == "00000000-0000-0000-0000-000000000000" and row["confirmation_token"] == ""
        assert (row["provider"], row["provider_id"], row["sub"]) == ("email", row["id"], row["id"])
        assert row["identity_email"] == row["email"]
        plan, credits = SEEDED[row["email"]]
        summary = db.rpc("get_credit_summary", as_=Identity.user(row["id"], row["email"]))
        assert (summary["plan"] or {}).get("code") == plan
        # The plan's monthly credits, the sign-up grant (10) and today's daily bonus of the plan.
        daily = Decimal(str(summary["daily_bonus"]["amount"]))
        assert daily == (Decimal(str(summary["plan"]["daily_bonus"])) if plan else 0)
        assert Decimal(str(summary["balance"])) == credits + Decimal("10") + daily
    audit_clean(db)


def test_auth_config_has_arabic_templates_and_callback_redirects() -> None:
    config = tomllib.loads((ROOT / "supabase" / "config.toml").read_text())
    auth = config["auth"]
    callbacks = auth["additional_redirect_urls"]
    assert "https://kwq8.com/auth/callback" in callbacks and "http://127.0.0.1:3000/auth/callback" in callbacks
    assert any("*" in url and "vercel.app" in url for url in callbacks)
    templates = auth["email"]["template"]
    assert set(templates) >= {"confirmation", "invite", "magic_link", "recovery", "email_change"}
    for name, template in templates.items():
        html = (ROOT / template["content_path"]).read_text()
        assert 'dir="rtl"' in html and 'lang="ar"' in html, name
        assert "{{ .ConfirmationURL }}" in html or "{{ .Token }}" in html, name
        assert any("\u0600" <= ch <= "\u06ff" for ch in template["subject"]), name


def test_storage_bucket_config_matches_the_migration_and_seeds_a_published_image(kwq8_tx: TestDatabase) -> None:
    bucket = tomllib.loads((ROOT / "supabase" / "config.toml").read_text())["storage"]["buckets"]["project-assets"]
    row = kwq8_tx.sql(
        "select public, file_size_limit, allowed_mime_types from storage.buckets where id = 'project-assets'"
    )[0]
    assert bucket["public"] is row["public"] is False
    assert bucket["file_size_limit"] == "10MiB" and row["file_size_limit"] == 10 * 1024 * 1024
    assert bucket["allowed_mime_types"] == row["allowed_mime_types"]
    images = list((ROOT / "supabase" / bucket["objects_path"]).glob("*/public/*.png"))
    seeded_project = "5eed0000-0000-4000-8000-0000000000a1"  # the published salon of supabase/seed.sql
    assert [p.parent.parent.name for p in images] == [seeded_project]
    assert images[0].read_bytes().startswith(b"\x89PNG")


# --------------------------------------------------------------------------- 3. sign-up grant


def test_new_user_gets_the_sign_up_grant_once_as_promo_credits_that_expire(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    _signup_grant_on(db, "10", "14 days")
    user = db.create_user()
    summary = db.rpc("get_credit_summary", as_=user)
    assert Decimal(str(summary["balance"])) == Decimal("10")
    promo = [g for g in summary["grants"] if g["source"] == "promo"]
    assert len(promo) == 1 and Decimal(str(promo[0]["remaining"])) == Decimal("10")
    expires = db.scalar("select expires_at - billing.clock() from billing.grants where user_id = %s", (user.user_id,))
    assert timedelta(days=13, hours=23) < expires <= timedelta(days=14)
    # The trigger running again (an email change, or a replayed sign-up) grants nothing more.
    db.sql("update auth.users set email = 'changed@example.test' where id = %s", (user.user_id,))
    entry = db.sql(
        "select description, description_ar, metadata ->> 'source' as source from public.credit_transactions "
        "where user_id = %s",
        (user.user_id,),
    )
    assert entry == [{"description": "Welcome credits", "description_ar": "رصيد ترحيبي", "source": "promo"}]
    # A spend draws on it like any credits.
    db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)
    assert Decimal(str(db.rpc("get_credit_summary", as_=user)["balance"])) == Decimal("7")
    audit_clean(db)


def test_sign_up_trigger_run_twice_grants_once(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    _signup_grant_on(db)
    user = db.create_user()
    # Supabase Auth re-running the insert trigger's work (an upsert of the same row).
    db.sql(
        "insert into auth.users (id, email) values (%s, 'x@example.test') on conflict (id) do update "
        "set email = excluded.email",
        (user.user_id,),
    )
    row = db.sql(
        "select count(*) as n, sum(credits_amount) as total from public.credit_transactions where user_id = %s",
        (user.user_id,),
    )
    assert row == [{"n": 1, "total": Decimal("10.00")}]


def test_sign_up_grant_can_be_turned_off(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    _signup_grant_on(db, "0")
    user = db.create_user()
    assert db.scalar("select credits_balance from public.users where id = %s", (user.user_id,)) == 0


# --------------------------------------------------------------------------- 4. usage and Arabic text


def test_credit_usage_per_action_per_day_is_the_callers_only_and_net_of_releases(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    user, other = db.create_user(), db.create_user()
    for who in (user, other):
        db.rpc(
            "grant_credits",
            {
                "user_id": who.user_id,
                "amount": "100",
                "source": "purchase",
                "expires_at": None,
                "idempotency_key": key(),
            },
            as_=SERVICE,
        )
    for _ in range(3):
        db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)
    db.rpc("spend_credits", {"action": "chat_message", "idempotency_key": key()}, as_=user)
    hold = db.rpc("reserve_credits", {"action": "complex_feature", "idempotency_key": key()}, as_=user)
    db.rpc("release_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"]}, as_=SERVICE)
    hold = db.rpc("reserve_credits", {"action": "complex_feature", "idempotency_key": key()}, as_=user)
    db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": "3"}, as_=SERVICE)
    db.rpc("spend_credits", {"action": "deployment", "idempotency_key": key()}, as_=other)
    today = db.scalar("select (now() at time zone 'Asia/Kuwait')::date")
    rows = db.rpc("get_credit_usage", {"days": 7}, as_=user)
    usage = {(r["day"], r["action"]): (Decimal(str(r["credits"])), r["entries"]) for r in rows}
    assert usage == {
        (str(today), "page_generation"): (Decimal("9"), 3),
        (str(today), "chat_message"): (Decimal("1"), 1),
        (str(today), "complex_feature"): (Decimal("3"), 2),
    }
    assert {r["name_ar"] for r in rows} >= {"إنشاء صفحة", "رسالة محادثة"}
    assert db.rpc("get_credit_usage", as_=other)[0]["action"] == "deployment"
    expect_error(lambda: db.rpc("get_credit_usage", {"days": 0}, as_=user), "VAL_001", 400)
    expect_error(lambda: db.rpc("get_credit_usage", {"days": 367}, as_=user), "VAL_001", 400)
    expect_error(lambda: db.rpc("get_credit_usage", as_=Identity.anon()), "42501")


def test_every_ledger_entry_carries_an_arabic_description(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    user = db.create_user()
    db.rpc(
        "grant_credits",
        {"user_id": user.user_id, "amount": "50", "source": "purchase", "expires_at": None, "idempotency_key": key()},
        as_=SERVICE,
    )
    spent = db.rpc("spend_credits", {"action": "page_generation", "idempotency_key": key()}, as_=user)
    hold = db.rpc("reserve_credits", {"action": "complex_feature", "idempotency_key": key()}, as_=user)
    db.rpc("capture_hold", {"user_id": user.user_id, "hold_id": hold["hold_id"], "amount": "2"}, as_=SERVICE)
    db.rpc(
        "refund_transaction",
        {
            "user_id": user.user_id,
            "transaction_id": spent["transaction_id"],
            "idempotency_key": key(),
            "reason": "generation failed",
        },
        as_=SERVICE,
    )
    rows = db.query_as(
        user, "select transaction_type, description, description_ar from public.credit_transactions order by seq"
    )
    assert all(r[2] and any("\u0600" <= ch <= "\u06ff" for ch in r[2]) for r in rows), rows
    by_type = {r[0]: r[2] for r in rows}
    assert by_type["grant"] == "رصيد مشترى" and by_type["spend"] == "إنشاء صفحة"
    assert by_type["hold"] == "حجز رصيد: ميزة متقدمة" and by_type["refund"].startswith("استرجاع")


def test_transaction_list_pages_through_the_user_seq_index(kwq8_db: TestDatabase) -> None:
    db = kwq8_db
    users = [str(uuid.uuid4()) for _ in range(40)]
    for uid in users:
        db.create_user(user_id=uid)
    # 40 users x 200 entries, written as the billing functions write them.
    db.sql(
        "select billing.grant_credits(u::uuid, 1, 'promo', null, 'k' || g, null) "
        "from unnest(%s::text[]) as u, generate_series(1, 200) as g",
        (users,),
    )
    db.sql("analyze public.credit_transactions")
    with db.request(Identity.user(users[7])) as cur:
        cur.execute(
            "explain (costs off) select id, transaction_type, credits_amount, description_ar, created_at "
            "from public.credit_transactions where user_id = %s order by seq desc limit 20 offset 40",
            (users[7],),
        )
        plan = "\n".join(r[0] for r in cur.fetchall())
    assert "credit_transactions_user_seq" in plan, plan
    assert "Sort" not in plan, plan


# --------------------------------------------------------------------------- 5. realtime


def test_dashboard_tables_are_in_the_realtime_publication_and_rls_decides_who_sees_a_change(
    kwq8_tx: TestDatabase, anon: Identity
) -> None:
    db = kwq8_tx
    published = {
        r["t"]
        for r in db.sql(
            "select schemaname || '.' || tablename as t from pg_publication_tables where pubname = 'supabase_realtime'"
        )
    }
    assert published == {"public.users", "public.credit_transactions", "public.bookings"}
    for table in published:
        assert db.scalar("select relrowsecurity from pg_class where oid = %s::regclass", (table,))
    owner, stranger = db.create_user(), db.create_user()
    project = db.scalar(
        "insert into public.projects (user_id, name, slug, subdomain, status) "
        "values (%s, 'Salon', 'salon', %s, 'published') returning id",
        (owner.user_id, f"salon-{uuid.uuid4().hex[:8]}"),
    )
    with db.request(anon) as cur:
        cur.execute(
            "insert into public.bookings (project_id, customer_name, phone, service, starts_at) "
            "values (%s, 'مريم', '55123456', 'قص', now() + interval '1 day')",
            (project,),
        )
    booking = db.scalar("select id from public.bookings where project_id = %s", (project,))
    grant = db.rpc(
        "grant_credits",
        {"user_id": owner.user_id, "amount": "5", "source": "promo", "expires_at": None, "idempotency_key": key()},
        as_=SERVICE,
    )
    # Realtime sends a change to a subscriber only if the subscriber's role and claims may
    # select the row: the same check, as each subscriber.
    changes = [
        ("public.bookings", booking),
        ("public.users", owner.user_id),
        ("public.credit_transactions", grant["transaction_id"]),
    ]
    for table, row_id in changes:
        query = f"select count(*) from {table} where id = %s"
        assert db.query_as(owner, query, (row_id,)) == [(1,)], table
        assert db.query_as(stranger, query, (row_id,)) == [(0,)], table


def test_shim_creates_the_realtime_publication_as_supabase_does(blank_db: Target) -> None:
    with connect(blank_db.url) as conn:
        row = conn.execute(
            "select pg_get_userbyid(pubowner), puballtables, "
            "(select count(*) from pg_publication_tables t where t.pubname = p.pubname) "
            "from pg_publication as p where pubname = 'supabase_realtime'"
        ).fetchone()
    # Empty and owned by postgres, so a migration run as postgres can add its tables.
    assert row == ("postgres", False, 0)
