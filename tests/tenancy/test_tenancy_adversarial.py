"""Adversarial requests against the tenancy schema, each with its documented outcome and no stray
write: guessed ids, rows re-pointed at another tenant, forged owners, visitors reading or writing
where they may not, and hostile or unusual input (Arabic, emoji, SQL, very long strings, nulls).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

from .test_tenancy_matrix import Tenants, add_booking, add_project, build_tenants

ANON = Identity.anon()
SERVICE = Identity.service_role()


@pytest.fixture
def world(kwq8_tx: TestDatabase) -> Tenants:
    return build_tenants(kwq8_tx)


def fails(db: TestDatabase, who: Identity, query: str, params: Any = None) -> ApiError:
    with pytest.raises(ApiError) as info:
        db.query_as(who, query, params)
    return info.value


def affected(db: TestDatabase, who: Identity, query: str, params: Any = None) -> int:
    with db.request(who) as cur:
        cur.execute(query, params)
        return cur.rowcount


def snapshot(db: TestDatabase) -> dict[str, Any]:
    """Every tenancy table, as the table owner sees it, to prove a request changed nothing."""
    tables = ("projects", "bookings", "contact_messages", "deployments", "domains")
    return {t: db.sql(f"select * from public.{t} order by id") for t in tables}


def later(days: float = 1) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


VISITOR_BOOKING = (
    "insert into public.bookings (project_id, customer_name, phone, email, service, starts_at, notes) "
    "values (%(project_id)s, %(customer_name)s, %(phone)s, %(email)s, %(service)s, %(starts_at)s, %(notes)s)"
)
VISITOR_MESSAGE = (
    "insert into public.contact_messages (project_id, name, email, phone, subject, message) "
    "values (%(project_id)s, %(name)s, %(email)s, %(phone)s, %(subject)s, %(message)s)"
)


def booking(project: str | None, **values: Any) -> dict[str, Any]:
    return {
        "project_id": project,
        "customer_name": "نورة",
        "phone": "55123456",
        "email": None,
        "service": "استشارة",
        "starts_at": later(),
        "notes": None,
        **values,
    }


def message(project: str | None, **values: Any) -> dict[str, Any]:
    return {
        "project_id": project,
        "name": "زائر",
        "email": "visitor@example.com",
        "phone": None,
        "subject": None,
        "message": "مرحبا",
        **values,
    }


# --------------------------------------------------------------------------- other tenants' rows


def test_guessing_another_projects_id_finds_and_changes_nothing(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db, intruder = kwq8_tx, world.other
    before = snapshot(db)
    for table in ("bookings", "contact_messages", "deployments", "domains"):
        for guess in (world.project, str(uuid.uuid4())):
            rows = db.query_as(intruder, f"select * from public.{table} where project_id = %s", (guess,))
            assert rows == [], table
    assert db.query_as(intruder, "select * from public.projects where id = %s", (world.project,)) == []
    # Without a filter an intruder sees only their own (here: none of the owner's rows).
    assert db.query_as(intruder, "select project_id from public.bookings") == []
    assert db.query_as(intruder, "select id from public.projects") == [(uuid.UUID(world.other_project),)]
    assert (
        affected(
            db, intruder, "update public.bookings set status = 'cancelled' where project_id = %s", (world.project,)
        )
        == 0
    )
    assert affected(db, intruder, "delete from public.contact_messages where id = %s", (world.message,)) == 0
    assert affected(db, intruder, "update public.projects set status = 'archived' where id = %s", (world.project,)) == 0
    assert affected(db, intruder, "delete from public.projects where id = %s", (world.project,)) == 0
    assert snapshot(db) == before


def test_own_rows_cannot_be_repointed_at_another_tenant(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db, owner = kwq8_tx, world.owner
    before = snapshot(db)
    attempts = [
        ("update public.bookings set project_id = %s where id = %s", (world.other_project, world.booking)),
        ("update public.contact_messages set project_id = %s where id = %s", (world.other_project, world.message)),
        # Not even to the owner's own other project, nor to the id it already has.
        ("update public.bookings set project_id = %s where id = %s", (world.project, world.booking)),
        ("update public.projects set user_id = %s where id = %s", (world.other.user_id, world.project)),
        ("update public.projects set user_id = %s where id = %s", (owner.user_id, world.project)),
    ]
    for query, params in attempts:
        error = fails(db, owner, query, params)
        assert (error.status, error.code) == (403, "42501") and "permission denied" in error.message, query
    # Writing into the other tenant's project directly is a policy violation.
    error = fails(db, owner, VISITOR_BOOKING, booking(world.other_project))
    assert (error.status, error.code) == (403, "42501") and "row-level security" in error.message
    assert snapshot(db) == before


def test_forged_owner_ids_are_refused(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db, owner = kwq8_tx, world.owner
    before = snapshot(db)
    insert = "insert into public.projects (user_id, name, slug, subdomain) values (%s, 'x', 'forged', 'forged')"
    for forged in (world.other.user_id, str(uuid.uuid4()), None):
        error = fails(db, owner, insert, (forged,))
        assert (error.status, error.code) == (403, "42501") and "row-level security" in error.message, forged
    # A visitor cannot create projects at all.
    error = fails(db, ANON, insert, (owner.user_id,))
    assert (error.status, error.code) == (401, "42501")
    assert snapshot(db) == before
    # Left out, the owner is the caller.
    with db.request(owner) as cur:
        cur.execute("insert into public.projects (name, slug, subdomain) values ('mine', 'mine', 'mine-site')")
    assert db.scalar("select user_id::text from public.projects where subdomain = 'mine-site'") == owner.user_id


def test_owners_cannot_set_deployment_or_domain_state(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db, owner = kwq8_tx, world.owner
    before = snapshot(db)
    for query in (
        "update public.domains set status = 'active', verified_at = now() where project_id = %s",
        "update public.domains set verification_records = '[]' where project_id = %s",
        "update public.deployments set status = 'ready', url = 'https://evil.example' where project_id = %s",
        "delete from public.domains where project_id = %s",
    ):
        error = fails(db, owner, query, (world.project,))
        assert (error.status, error.code) == (403, "42501"), query
    assert snapshot(db) == before
    assert (
        affected(
            db,
            SERVICE,
            "update public.domains set status = 'active', verified_at = now() where project_id = %s",
            (world.project,),
        )
        == 1
    )


# --------------------------------------------------------------------------- visitors


def test_visitors_read_nothing(kwq8_tx: TestDatabase, world: Tenants) -> None:
    for table in ("bookings", "contact_messages", "projects", "deployments", "domains"):
        error = fails(kwq8_tx, ANON, f"select * from public.{table}")
        assert (error.status, error.code) == (401, "42501"), table
    # Asking for the new row back (Prefer: return=representation) is reading: refused, not written.
    before = snapshot(kwq8_tx)
    error = fails(kwq8_tx, ANON, VISITOR_BOOKING + " returning id", booking(world.project))
    assert (error.status, error.code) == (401, "42501")
    assert snapshot(kwq8_tx) == before


def test_visitor_submissions_reach_only_published_projects(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db = kwq8_tx
    draft = add_project(db, world.other, status="draft")
    archived = add_project(db, world.other, status="archived")
    before = snapshot(db)
    for target in (draft, archived, str(uuid.uuid4()), None):
        for query, values in ((VISITOR_BOOKING, booking(target)), (VISITOR_MESSAGE, message(target))):
            error = fails(db, ANON, query, values)
            # The same answer for a draft, an archived and a missing project: nothing to probe.
            assert (error.status, error.code) == (401, "42501") and "row-level security" in error.message
    assert snapshot(db) == before
    # Published, the same submissions go through; unpublished again, they stop.
    db.sql("update public.projects set status = 'published' where id = %s", (draft,))
    db.query_as(ANON, VISITOR_BOOKING, booking(draft))
    db.query_as(ANON, VISITOR_MESSAGE, message(draft))
    db.sql("update public.projects set status = 'draft' where id = %s", (draft,))
    assert fails(db, ANON, VISITOR_BOOKING, booking(draft)).code == "42501"
    assert db.scalar("select count(*) from public.bookings where project_id = %s", (draft,)) == 1


def test_visitors_fill_in_the_form_fields_only(kwq8_tx: TestDatabase, world: Tenants) -> None:
    before = snapshot(kwq8_tx)
    for extra, value in (("status", "confirmed"), ("id", str(uuid.uuid4())), ("created_at", "2020-01-01")):
        query = (
            f"insert into public.bookings (project_id, customer_name, phone, service, starts_at, {extra}) "
            "values (%s, 'x', '55123456', 'y', %s, %s)"
        )
        error = fails(kwq8_tx, ANON, query, (world.project, later(), value))
        assert (error.status, error.code) == (401, "42501") and "permission denied" in error.message, extra
    error = fails(
        kwq8_tx,
        ANON,
        "insert into public.contact_messages (project_id, name, email, message, status) "
        "values (%s, 'x', 'a@b.co', 'm', 'read')",
        (world.project,),
    )
    assert error.code == "42501"
    assert snapshot(kwq8_tx) == before
    kwq8_tx.query_as(ANON, VISITOR_BOOKING, booking(world.project, customer_name="defaults"))
    assert kwq8_tx.scalar("select status from public.bookings where customer_name = 'defaults'") == "pending"


# --------------------------------------------------------------------------- hostile and unusual input

TEXTS = [
    "محمد بن عبدالله العنزي",  # Arabic
    "🎉 حجز عيد ميلاد 🎂👨‍👩‍👧",  # emoji, including a ZWJ sequence
    "مُحَمَّد",  # combining marks (harakat)
    "\u200fمرحبا\u200f Hello",  # right-to-left marks mixed with Latin
    "'); drop table public.bookings; --",
    "1' or '1'='1",
    "$$; select pg_sleep(10); $$",
    "%s %(x)s {0} \\x00 \\\\",
    "<script>alert(1)</script>",
]


@pytest.mark.parametrize("text", TEXTS)
def test_text_is_stored_exactly_as_sent(kwq8_tx: TestDatabase, world: Tenants, text: str) -> None:
    db = kwq8_tx
    db.query_as(ANON, VISITOR_BOOKING, booking(world.project, customer_name=text, service=text, notes=text))
    db.query_as(ANON, VISITOR_MESSAGE, message(world.project, name=text, subject=text, message=text))
    rows = db.query_as(
        world.owner,
        "select customer_name, service, notes from public.bookings where project_id = %s and customer_name = %s",
        (world.project, text),
    )
    assert rows == [(text, text, text)]
    rows = db.query_as(
        world.owner,
        "select name, subject, message from public.contact_messages where project_id = %s and name = %s",
        (world.project, text),
    )
    assert rows == [(text, text, text)]
    assert db.scalar("select count(*) from public.bookings") == 2  # the table is still there


@pytest.mark.parametrize(
    ("field", "limit"),
    [("customer_name", 100), ("service", 100), ("notes", 2000)],
)
def test_booking_lengths_are_bounded(kwq8_tx: TestDatabase, world: Tenants, field: str, limit: int) -> None:
    db = kwq8_tx
    db.query_as(ANON, VISITOR_BOOKING, booking(world.project, **{field: "ع" * limit}))
    before = snapshot(db)
    for length in (limit + 1, 1_000_000):
        error = fails(db, ANON, VISITOR_BOOKING, booking(world.project, **{field: "ع" * length}))
        assert (error.status, error.code) == (400, "BOOK_002"), length
    assert snapshot(db) == before


def test_message_lengths_are_bounded(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db = kwq8_tx
    db.query_as(ANON, VISITOR_MESSAGE, message(world.project, message="😀" * 5000, subject="س" * 200))
    before = snapshot(db)
    for values in ({"message": "😀" * 5001}, {"subject": "س" * 201}, {"name": "x" * 101}, {"message": " \n "}):
        error = fails(db, ANON, VISITOR_MESSAGE, message(world.project, **values))
        assert (error.status, error.code) == (400, "MSG_002"), values
    assert snapshot(db) == before


def test_control_characters_are_refused_but_line_breaks_kept(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db = kwq8_tx
    error = fails(db, ANON, VISITOR_BOOKING, booking(world.project, customer_name="a\u0007b"))
    assert error.code == "BOOK_002"
    error = fails(db, ANON, VISITOR_BOOKING, booking(world.project, notes="bell \u0007"))
    assert error.code == "BOOK_002"
    db.query_as(ANON, VISITOR_BOOKING, booking(world.project, notes="سطر أول\nسطر ثان\tمع جدولة"))


@pytest.mark.parametrize(
    ("field", "code"),
    [
        ("customer_name", "23502"),
        ("phone", "23502"),
        ("service", "23502"),
        ("starts_at", "23502"),
    ],
)
def test_required_booking_fields(kwq8_tx: TestDatabase, world: Tenants, field: str, code: str) -> None:
    before = snapshot(kwq8_tx)
    error = fails(kwq8_tx, ANON, VISITOR_BOOKING, booking(world.project, **{field: None}))
    assert (error.status, error.code) == (400, code)
    assert snapshot(kwq8_tx) == before


def test_optional_fields_and_blank_strings(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db = kwq8_tx
    db.query_as(ANON, VISITOR_BOOKING, booking(world.project, customer_name="  سارة  ", email="  ", notes=""))
    assert db.sql("select customer_name, email, notes from public.bookings where customer_name = 'سارة'") == [
        {"customer_name": "سارة", "email": None, "notes": None}
    ]
    before = snapshot(db)
    # Whitespace only is empty, and a message nobody can answer is refused.
    assert fails(db, ANON, VISITOR_BOOKING, booking(world.project, customer_name="   ")).code == "BOOK_002"
    assert fails(db, ANON, VISITOR_MESSAGE, message(world.project, email=None, phone=None)).code == "MSG_001"
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("55123456", "+96555123456"),
        ("2222 3333", "+96522223333"),
        ("+965 6612-3456", "+96566123456"),
        ("00965 9912 3456", "+96599123456"),
        ("(965) 5512 3456", None),  # no + or 00: ambiguous, refused
        ("٥٥١٢٣٤٥٦", "+96555123456"),  # Arabic-Indic digits
        ("+44 7911 123456", "+447911123456"),
        ("0044 7911 123456", "+447911123456"),
        ("12345678", None),  # Kuwaiti numbers start with 2, 5, 6 or 9
        ("5512345", None),  # 7 digits
        ("+965 1234 5678", None),
        ("+965 5512 34567", None),
        ("+1234567", None),  # too short for E.164
        ("+1234567890123456", None),  # too long
        ("phone", None),
        ("+965 5512 3456; drop table public.bookings", None),
    ],
)
def test_phone_numbers(kwq8_tx: TestDatabase, world: Tenants, typed: str, stored: str | None) -> None:
    db = kwq8_tx
    if stored is None:
        before = snapshot(db)
        assert fails(db, ANON, VISITOR_BOOKING, booking(world.project, phone=typed)).code == "BOOK_001"
        assert fails(db, ANON, VISITOR_MESSAGE, message(world.project, phone=typed)).code == "VAL_003"
        assert snapshot(db) == before
        return
    db.query_as(ANON, VISITOR_BOOKING, booking(world.project, phone=typed, customer_name="phone case"))
    assert db.scalar("select phone from public.bookings where customer_name = 'phone case'") == stored


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("user@example.com", True),
        ("first.last+tag@mail.example.com.kw", True),
        ("UPPER@EXAMPLE.COM", True),
        ("no-at-sign.example.com", False),
        ("two@@example.com", False),
        ("space in@example.com", False),
        ("user@localhost", False),
        ("user@-bad.com", False),
        ("مستخدم@example.com", False),
        ("a@b.c", False),
        ("x" * 65 + "@example.com", False),
        ("user@example.com' or '1'='1", False),
    ],
)
def test_email_addresses(kwq8_tx: TestDatabase, world: Tenants, email: str, valid: bool) -> None:
    if valid:
        kwq8_tx.query_as(ANON, VISITOR_BOOKING, booking(world.project, email=email))
        kwq8_tx.query_as(ANON, VISITOR_MESSAGE, message(world.project, email=email))
        return
    before = snapshot(kwq8_tx)
    assert fails(kwq8_tx, ANON, VISITOR_BOOKING, booking(world.project, email=email)).code == "BOOK_002"
    assert fails(kwq8_tx, ANON, VISITOR_MESSAGE, message(world.project, email=email)).code == "VAL_004"
    assert snapshot(kwq8_tx) == before


# --------------------------------------------------------------------------- time


def test_no_booking_in_the_past(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db = kwq8_tx
    db.freeze_time("2031-03-01T09:00:00+03:00")
    now = datetime.fromisoformat("2031-03-01T09:00:00+03:00")
    before = snapshot(db)
    for when in (now - timedelta(minutes=1), now, now + timedelta(days=731, seconds=1)):
        error = fails(db, ANON, VISITOR_BOOKING, booking(world.project, starts_at=when))
        assert (error.status, error.code) == (400, "VAL_001"), when
        assert error.message == "البيانات المدخلة غير صالحة" and "starts_at" in (error.details or "")
    assert snapshot(db) == before
    db.query_as(ANON, VISITOR_BOOKING, booking(world.project, starts_at=now + timedelta(minutes=1), notes="soon"))
    row = db.sql("select id from public.bookings where notes = 'soon'")[0]
    # Time passes: the owner can still update the past booking, but not move it into the past.
    db.freeze_time("2031-03-02T09:00:00+03:00")
    assert affected(db, world.owner, "update public.bookings set status = 'completed' where id = %s", (row["id"],)) == 1
    error = fails(db, world.owner, "update public.bookings set starts_at = %s where id = %s", (now, row["id"]))
    assert error.code == "VAL_001"


# --------------------------------------------------------------------------- projects


@pytest.mark.parametrize(
    ("subdomain", "stored"),
    [
        ("my-salon", "my-salon"),
        ("  My-Salon ", "my-salon"),
        ("abc", "abc"),
        ("a" * 63, "a" * 63),
        ("ab", None),
        ("a" * 64, None),
        ("-salon", None),
        ("salon-", None),
        ("sa--lon", None),
        ("xn--mgbh0fb", None),
        ("my_salon", None),
        ("my.salon", None),
        ("صالون", None),
        ("www", None),
        ("api", None),
        ("kwq8", None),
    ],
)
def test_subdomains(kwq8_tx: TestDatabase, world: Tenants, subdomain: str, stored: str | None) -> None:
    db = kwq8_tx
    insert = "insert into public.projects (name, slug, subdomain) values ('s', 'sub', %s)"
    if stored is None:
        before = snapshot(db)
        error = fails(db, world.other, insert, (subdomain,))
        assert (error.status, error.code) == (400, "PROJ_003")
        assert snapshot(db) == before
        return
    db.query_as(world.other, insert, (subdomain,))
    assert db.scalar("select subdomain from public.projects where slug = 'sub'") == stored


def test_subdomains_are_unique_across_tenants(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db = kwq8_tx
    taken = db.scalar("select subdomain from public.projects where id = %s", (world.project,))
    error = fails(
        db, world.other, "insert into public.projects (name, slug, subdomain) values ('x', 'x', %s)", (taken.upper(),)
    )
    assert (error.status, error.code) == (409, "23505")


def test_project_fields_are_validated(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db, owner = kwq8_tx, world.owner
    before = snapshot(db)
    for column, value, code in (
        ("name", "", "PROJ_002"),
        ("name", "ن" * 101, "PROJ_002"),
        ("name", None, "23502"),
        ("slug", "Has Spaces", "PROJ_002"),
        ("status", "deleted", "PROJ_002"),
        ("template", "../../etc", "PROJ_002"),
        ("settings", '["not", "an", "object"]', "PROJ_002"),
        ("settings", '{"blob": "' + "x" * 70000 + '"}', "PROJ_002"),
    ):
        error = fails(db, owner, f"update public.projects set {column} = %s where id = %s", (value, world.project))
        assert (error.status, error.code) == (400, code), (column, value)
    assert snapshot(db) == before


def test_domain_names_are_validated(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db = kwq8_tx
    insert = "insert into public.domains (project_id, fqdn) values (%s, %s)"
    for fqdn in ("salon.com.kw", "xn--mgbh0fb.xn--mgbaam7a8h", "a.b.example.co"):
        db.query_as(SERVICE, insert, (world.project, fqdn))
    for fqdn in ("Salon.com", "salon", "shop.kwq8.com", "kwq8.com", "-x.com", "x..com", "x.c", "a b.com"):
        error = fails(db, SERVICE, insert, (world.project, fqdn))
        assert error.code == "23514", fqdn
    error = fails(db, SERVICE, insert, (world.other_project, "salon.com.kw"))
    assert (error.status, error.code) == (409, "23505")


def test_deleting_a_project_deletes_its_client_data(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db = kwq8_tx
    assert affected(db, world.owner, "delete from public.projects where id = %s", (world.project,)) == 1
    for table in ("bookings", "contact_messages", "deployments", "domains"):
        assert db.scalar(f"select count(*) from public.{table} where project_id = %s", (world.project,)) == 0
    # The other tenant's project is untouched.
    assert db.scalar("select count(*) from public.projects where id = %s", (world.other_project,)) == 1


def test_owner_manages_client_data(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db, owner = kwq8_tx, world.owner
    add_booking(db, world.project, customer_name="ثانٍ")
    rows = db.query_as(
        owner,
        "select customer_name from public.bookings where project_id = %s order by starts_at desc",
        (world.project,),
    )
    assert sorted(r[0] for r in rows) == sorted(["عميل", "ثانٍ"])
    assert (
        affected(
            db,
            owner,
            "update public.bookings set status = 'confirmed', notes = 'تم التأكيد' where project_id = %s",
            (world.project,),
        )
        == 2
    )
    assert (
        affected(db, owner, "update public.contact_messages set status = 'replied' where id = %s", (world.message,))
        == 1
    )
    error = fails(db, owner, "update public.contact_messages set message = 'rewritten' where id = %s", (world.message,))
    assert (error.status, error.code) == (403, "42501")
