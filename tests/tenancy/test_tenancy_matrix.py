"""The privilege matrix: every relation in an exposed schema x {anon, owner, another user,
service_role} x {select, insert, update, delete}, run as PostgREST runs it, against the outcome
declared in EXPECTATIONS.

A relation without declared expectations fails `test_every_exposed_relation_is_declared`, so no
future table escapes the matrix. Each cell runs in a savepoint rolled back afterwards, on the same
world: an owner with a published project holding one row of every kind, and another user with a
project of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from kwq8.config import Project
from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

ACTORS = ("anon", "owner", "other", "service_role")
COMMANDS = ("select", "insert", "update", "delete")

# Outcomes. What PostgREST answers is in brackets.
ALLOWED = "allowed"  # the target row is seen, the new row written, the target row changed or deleted
DENIED = "denied"  # 42501 permission denied: no grant for the table or column [401 anon, 403 user]
FILTERED = "filtered"  # no error, but RLS hides the target: 0 rows seen or changed [200, empty]
RLS_VIOLATION = "rls_violation"  # 42501 new row violates row-level security policy [401 / 403]

A, D, F, V = ALLOWED, DENIED, FILTERED, RLS_VIOLATION


def row(select: str, insert: str, update: str, delete: str) -> dict[str, str]:
    return {"select": select, "insert": insert, "update": update, "delete": delete}


# --------------------------------------------------------------------------- the declaration

# relation -> actor -> command -> outcome. "owner" acts on their own rows; "other" is another
# signed-in user acting on the owner's rows (or, for inserts, writing into the owner's project /
# as the owner); anon is a visitor of the owner's published site.
EXPECTATIONS: dict[str, dict[str, dict[str, str]]] = {
    # Owners manage their projects; nobody creates one for somebody else; visitors see none.
    "public.projects": {
        "anon": row(D, D, D, D),
        "owner": row(A, A, A, A),
        "other": row(F, V, F, F),
        "service_role": row(A, A, A, A),
    },
    # Client data: visitors only submit (into a published project) and read nothing back.
    "public.bookings": {
        "anon": row(D, A, D, D),
        "owner": row(A, A, A, A),
        "other": row(F, V, F, F),
        "service_role": row(A, A, A, A),
    },
    "public.contact_messages": {
        "anon": row(D, A, D, D),
        "owner": row(A, A, A, A),
        "other": row(F, V, F, F),
        "service_role": row(A, A, A, A),
    },
    # Written by the deploy and domain services only; owners read theirs.
    "public.deployments": {
        "anon": row(D, D, D, D),
        "owner": row(A, D, D, D),
        "other": row(F, D, D, D),
        "service_role": row(A, A, A, A),
    },
    "public.domains": {
        "anon": row(D, D, D, D),
        "owner": row(A, D, D, D),
        "other": row(F, D, D, D),
        "service_role": row(A, A, A, A),
    },
    # Domains (0013): owners read their contact, quotes and orders; only functions write them.
    "public.domain_contacts": {
        "anon": row(D, D, D, D),
        "owner": row(A, D, D, D),
        "other": row(F, D, D, D),
        "service_role": row(A, D, D, D),
    },
    "public.domain_quotes": {
        "anon": row(D, D, D, D),
        "owner": row(A, D, D, D),
        "other": row(F, D, D, D),
        "service_role": row(A, D, D, D),
    },
    "public.domain_orders": {
        "anon": row(D, D, D, D),
        "owner": row(A, D, D, D),
        "other": row(F, D, D, D),
        "service_role": row(A, D, D, D),
    },
    # Credits (0002): users read their own row and ledger; every write goes through billing
    # functions, so not even service_role holds a write grant.
    "public.users": {
        "anon": row(D, D, D, D),
        "owner": row(A, D, D, D),
        "other": row(F, D, D, D),
        "service_role": row(A, D, D, D),
    },
    "public.credit_transactions": {
        "anon": row(D, D, D, D),
        "owner": row(A, D, D, D),
        "other": row(F, D, D, D),
        "service_role": row(A, D, D, D),
    },
    # Payments (0004): users read their own checkouts and subscription; every write goes through
    # the payments functions.
    "public.payments": {
        "anon": row(D, D, D, D),
        "owner": row(A, D, D, D),
        "other": row(F, D, D, D),
        "service_role": row(A, D, D, D),
    },
    "public.subscriptions": {
        "anon": row(D, D, D, D),
        "owner": row(A, D, D, D),
        "other": row(F, D, D, D),
        "service_role": row(A, D, D, D),
    },
    # Public reference data: everyone reads, nobody writes through the API.
    "public.plans": {actor: row(A, D, D, D) for actor in ACTORS},
    "public.credit_packs": {actor: row(A, D, D, D) for actor in ACTORS},
    "public.action_costs": {actor: row(A, D, D, D) for actor in ACTORS},
    "public.error_codes": {actor: row(A, D, D, D) for actor in ACTORS},
}


# --------------------------------------------------------------------------- the world


@dataclass
class Tenants:
    """Two tenants: `owner` with a published project holding one row of every kind, and
    `other` with a published project of their own."""

    db: TestDatabase
    owner: Identity
    other: Identity
    project: str
    other_project: str
    booking: str
    message: str
    deployment: str
    domain: str
    ids: dict[str, str] = field(default_factory=dict)

    def identity(self, actor: str) -> Identity:
        return {
            "anon": Identity.anon(),
            "owner": self.owner,
            "other": self.other,
            "service_role": Identity.service_role(),
        }[actor]


def subscribe(db: TestDatabase, user: Identity, plan: str) -> None:
    """Put a user on a running plan (what the payments code does on activation)."""
    db.sql(
        "update public.users set plan = %s, plan_period_start = billing.clock() - interval '1 day', "
        "plan_period_end = billing.clock() + interval '30 days' where id = %s",
        (plan, user.user_id),
    )


def add_project(db: TestDatabase, user: Identity, status: str = "published", name: str | None = None) -> str:
    """A project created as the table owner would (no policy in the way; triggers apply)."""
    label = name or f"p{uuid.uuid4().hex[:12]}"
    return str(
        db.scalar(
            "insert into public.projects (user_id, name, slug, subdomain, status) values (%s, %s, %s, %s, %s) "
            "returning id",
            (user.user_id, label, label, label, status),
        )
    )


def add_booking(db: TestDatabase, project: str, **values: Any) -> str:
    data = {
        "project_id": project,
        "customer_name": "عميل",
        "phone": "+96555123456",
        "service": "قص شعر",
        **values,
    }
    columns = ", ".join(data)
    marks = ", ".join(["%s"] * len(data))
    return str(
        db.scalar(
            f"insert into public.bookings ({columns}, starts_at) values ({marks}, billing.clock() + interval '1 day') "
            "returning id",
            tuple(data.values()),
        )
    )


def build_tenants(db: TestDatabase) -> Tenants:
    owner = db.create_user()
    other = db.create_user()
    # Room for more projects than the one each starts with (the insert cells and other tests add some).
    subscribe(db, owner, "basic")
    subscribe(db, other, "basic")
    project = add_project(db, owner)
    other_project = add_project(db, other)
    booking = add_booking(db, project)
    message = str(
        db.scalar(
            "insert into public.contact_messages (project_id, name, email, message) "
            "values (%s, 'زائر', 'visitor@example.com', 'مرحبا') returning id",
            (project,),
        )
    )
    deployment = str(
        db.scalar(
            "insert into public.deployments (project_id, provider, status, url) "
            "values (%s, 'vercel', 'ready', 'https://owner.kwq8.com') returning id",
            (project,),
        )
    )
    domain = str(
        db.scalar(
            "insert into public.domains (project_id, fqdn) values (%s, %s) returning id",
            (project, f"d{uuid.uuid4().hex[:10]}.com.kw"),
        )
    )
    # A ledger entry of the owner's that moves no credits (the billing functions write the real
    # ones; this only needs a row to look for).
    transaction = str(
        db.scalar(
            "insert into public.credit_transactions (user_id, transaction_type, credits_amount, balance_after) "
            "values (%s, 'capture', 0, 0) returning id",
            (owner.user_id,),
        )
    )
    return Tenants(
        db,
        owner,
        other,
        project,
        other_project,
        booking,
        message,
        deployment,
        domain,
        ids={"credit_transaction": transaction},
    )


# --------------------------------------------------------------------------- what each cell runs

Statement = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Case:
    """The statements one relation's cells run: which row is the target, and how to write one."""

    select: Callable[[Tenants], Statement]
    insert: Callable[[Tenants], Statement]
    update: Callable[[Tenants], Statement]
    delete: Callable[[Tenants], Statement]
    # Counts the rows the insert statement writes, read as the table owner afterwards.
    inserted: Callable[[Tenants], Statement]
    # Rows the cells need beyond the common world, written as the table owner before the request.
    setup: Callable[[Tenants], None] | None = None

    def statement(self, command: str, world: Tenants) -> Statement:
        builder: Callable[[Tenants], Statement] = getattr(self, command)
        return builder(world)


def _by_id(table: str, key: str) -> Callable[[Tenants], Statement]:
    return lambda w: (f"select * from {table} where id = %(id)s", {"id": getattr(w, key)})


def _delete_by_id(table: str, key: str) -> Callable[[Tenants], Statement]:
    return lambda w: (f"delete from {table} where id = %(id)s", {"id": getattr(w, key)})


def _count(table: str, where: str) -> Callable[[Tenants], Statement]:
    return lambda w: (f"select count(*) from {table} where {where}", {"project": w.project, "owner": w.owner.user_id})


def _by_ids(table: str, key: str) -> Callable[[Tenants], Statement]:
    return lambda w: (f"select * from {table} where id = %(id)s", {"id": w.ids[key]})


def _delete_by_ids(table: str, key: str) -> Callable[[Tenants], Statement]:
    return lambda w: (f"delete from {table} where id = %(id)s", {"id": w.ids[key]})


def _domain_payment(w: Tenants) -> str:
    return str(
        w.db.scalar(
            "insert into public.payments (order_id, user_id, purpose, kind, amount_kwd, idempotency_key, "
            "request_fingerprint) values (%s, %s, 'domain', 'new', 4.25, %s, 'matrix') returning id",
            (f"kwq8_{uuid.uuid4().hex}", w.owner.user_id, str(uuid.uuid4())),
        )
    )


def _domain_world(w: Tenants) -> None:
    """The owner's registrant contact, a quote and an order paid by a domain payment."""
    w.db.sql(
        "insert into public.domain_contacts (user_id, first_name, last_name, address1, city, state_province, "
        "postal_code, country, phone, email) values (%s, 'Fatima', 'S', 'Block 3', 'Kuwait', 'Asimah', '13001', "
        "'KW', '+965.55501234', 'owner@example.kw')",
        (w.owner.user_id,),
    )
    quote = str(
        w.db.scalar(
            "insert into public.domain_quotes (user_id, project_id, fqdn, fqdn_unicode, years, premium, usd_price, "
            "usd_kwd_rate, margin, price_kwd, expires_at) values (%s, %s, 'matrix.com', 'matrix.com', 1, false, "
            "10.98, 0.307, 1.2, 4.25, now() + interval '15 minutes') returning id",
            (w.owner.user_id, w.project),
        )
    )
    order = str(
        w.db.scalar(
            "insert into public.domain_orders (user_id, project_id, quote_id, payment_id, fqdn, years) "
            "values (%s, %s, %s, %s, 'matrix.com', 1) returning id",
            (w.owner.user_id, w.project, quote, _domain_payment(w)),
        )
    )
    w.ids.update(quote=quote, order=order, payment2=_domain_payment(w))


CASES: dict[str, Case] = {
    "public.projects": Case(
        select=_by_id("public.projects", "project"),
        # Sent with user_id = the owner: from anyone but the owner, a forged owner.
        insert=lambda w: (
            "insert into public.projects (user_id, name, slug, subdomain) "
            "values (%(owner)s, 'مشروع المصفوفة', 'matrix', 'matrix-cell')",
            {"owner": w.owner.user_id},
        ),
        update=lambda w: ("update public.projects set name = 'renamed' where id = %(id)s", {"id": w.project}),
        delete=_delete_by_id("public.projects", "project"),
        inserted=_count("public.projects", "subdomain = 'matrix-cell'"),
    ),
    "public.bookings": Case(
        select=_by_id("public.bookings", "booking"),
        # Without RETURNING, as PostgREST sends it with Prefer: return=minimal.
        insert=lambda w: (
            "insert into public.bookings (project_id, customer_name, phone, email, service, starts_at, notes) "
            "values (%(project)s, 'matrix cell', '99887766', 'cell@example.com', 'قص شعر', %(starts_at)s, 'ملاحظة')",
            {"project": w.project, "starts_at": datetime.now(UTC) + timedelta(days=3)},
        ),
        update=lambda w: ("update public.bookings set status = 'confirmed' where id = %(id)s", {"id": w.booking}),
        delete=_delete_by_id("public.bookings", "booking"),
        inserted=_count("public.bookings", "customer_name = 'matrix cell'"),
    ),
    "public.contact_messages": Case(
        select=_by_id("public.contact_messages", "message"),
        insert=lambda w: (
            "insert into public.contact_messages (project_id, name, email, phone, subject, message) "
            "values (%(project)s, 'matrix cell', 'cell@example.com', '+96522001122', 'سؤال', 'هل أنتم متاحون؟')",
            {"project": w.project},
        ),
        update=lambda w: ("update public.contact_messages set status = 'read' where id = %(id)s", {"id": w.message}),
        delete=_delete_by_id("public.contact_messages", "message"),
        inserted=_count("public.contact_messages", "name = 'matrix cell'"),
    ),
    "public.deployments": Case(
        select=_by_id("public.deployments", "deployment"),
        insert=lambda w: (
            "insert into public.deployments (project_id, provider, provider_deployment_id) "
            "values (%(project)s, 'vercel', 'matrix-cell')",
            {"project": w.project},
        ),
        update=lambda w: (
            "update public.deployments set status = 'failed', error_message = 'x' where id = %(id)s",
            {"id": w.deployment},
        ),
        delete=_delete_by_id("public.deployments", "deployment"),
        inserted=_count("public.deployments", "provider_deployment_id = 'matrix-cell'"),
    ),
    "public.domains": Case(
        select=_by_id("public.domains", "domain"),
        insert=lambda w: (
            "insert into public.domains (project_id, fqdn) values (%(project)s, 'matrix-cell.com.kw')",
            {"project": w.project},
        ),
        update=lambda w: (
            "update public.domains set status = 'active', verified_at = now() where id = %(id)s",
            {"id": w.domain},
        ),
        delete=_delete_by_id("public.domains", "domain"),
        inserted=_count("public.domains", "fqdn = 'matrix-cell.com.kw'"),
    ),
    "public.users": Case(
        select=lambda w: ("select * from public.users where id = %(id)s", {"id": w.owner.user_id}),
        insert=lambda w: (
            "insert into public.users (id, email) values (%(id)s, 'forged@example.com')",
            {"id": w.owner.user_id},
        ),
        update=lambda w: (
            "update public.users set plan = 'enterprise', plan_period_end = now() + interval '10 years', "
            "credits_balance = 1000000 where id = %(id)s",
            {"id": w.owner.user_id},
        ),
        delete=lambda w: ("delete from public.users where id = %(id)s", {"id": w.owner.user_id}),
        inserted=_count("public.users", "email = 'forged@example.com'"),
    ),
    "public.credit_transactions": Case(
        select=lambda w: (
            "select * from public.credit_transactions where id = %(id)s",
            {"id": w.ids["credit_transaction"]},
        ),
        insert=lambda w: (
            "insert into public.credit_transactions (user_id, transaction_type, credits_amount, balance_after, "
            "description) values (%(owner)s, 'grant', 1000, 1000, 'matrix cell')",
            {"owner": w.owner.user_id},
        ),
        update=lambda w: (
            "update public.credit_transactions set credits_amount = 1000 where id = %(id)s",
            {"id": w.ids["credit_transaction"]},
        ),
        delete=lambda w: (
            "delete from public.credit_transactions where id = %(id)s",
            {"id": w.ids["credit_transaction"]},
        ),
        inserted=_count("public.credit_transactions", "description = 'matrix cell'"),
    ),
    "public.domain_contacts": Case(
        setup=lambda w: _domain_world(w),
        select=lambda w: ("select * from public.domain_contacts where user_id = %(id)s", {"id": w.owner.user_id}),
        insert=lambda w: (
            "insert into public.domain_contacts (user_id, first_name, last_name, address1, city, state_province, "
            "postal_code, country, phone, email) values (%(owner)s, 'M', 'Cell', 'a', 'c', 's', '1', 'KW', "
            "'+965.5550000', 'matrix@example.kw') on conflict do nothing",
            {"owner": w.owner.user_id},
        ),
        update=lambda w: (
            "update public.domain_contacts set email = 'forged@example.com' where user_id = %(id)s",
            {"id": w.owner.user_id},
        ),
        delete=lambda w: ("delete from public.domain_contacts where user_id = %(id)s", {"id": w.owner.user_id}),
        inserted=_count("public.domain_contacts", "email = 'matrix@example.kw'"),
    ),
    "public.domain_quotes": Case(
        setup=lambda w: _domain_world(w),
        select=_by_ids("public.domain_quotes", "quote"),
        insert=lambda w: (
            "insert into public.domain_quotes (user_id, project_id, fqdn, fqdn_unicode, years, premium, usd_price, "
            "usd_kwd_rate, margin, price_kwd, expires_at) values (%(owner)s, %(project)s, 'matrix-cell.com', "
            "'matrix-cell.com', 1, false, 1, 1, 1, 0.001, now() + interval '1 year')",
            {"owner": w.owner.user_id, "project": w.project},
        ),
        update=lambda w: (
            "update public.domain_quotes set price_kwd = 0.001 where id = %(id)s",
            {"id": w.ids["quote"]},
        ),
        delete=_delete_by_ids("public.domain_quotes", "quote"),
        inserted=_count("public.domain_quotes", "fqdn = 'matrix-cell.com'"),
    ),
    "public.domain_orders": Case(
        setup=lambda w: _domain_world(w),
        select=_by_ids("public.domain_orders", "order"),
        insert=lambda w: (
            "insert into public.domain_orders (user_id, project_id, quote_id, payment_id, fqdn, years) "
            "values (%(owner)s, %(project)s, %(quote)s, %(payment)s, 'matrix-cell2.com', 1)",
            {"owner": w.owner.user_id, "project": w.project, "quote": w.ids["quote"], "payment": w.ids["payment2"]},
        ),
        update=lambda w: (
            "update public.domain_orders set state = 'registered', registered_at = now() where id = %(id)s",
            {"id": w.ids["order"]},
        ),
        delete=_delete_by_ids("public.domain_orders", "order"),
        inserted=_count("public.domain_orders", "fqdn = 'matrix-cell2.com'"),
    ),
    "public.payments": Case(
        setup=lambda w: w.ids.update(
            payment=str(
                w.db.scalar(
                    "insert into public.payments (order_id, user_id, plan, kind, amount_kwd, idempotency_key, "
                    "request_fingerprint) values (%s, %s, 'basic', 'new', 23, %s, 'matrix') returning id",
                    (f"kwq8_{uuid.uuid4().hex}", w.owner.user_id, str(uuid.uuid4())),
                )
            )
        ),
        select=lambda w: ("select * from public.payments where id = %(id)s", {"id": w.ids["payment"]}),
        insert=lambda w: (
            "insert into public.payments (order_id, user_id, plan, kind, amount_kwd, idempotency_key, "
            "request_fingerprint) values ('kwq8_00000000000000000000000000000000', %(owner)s, 'enterprise', 'new', "
            "0.001, 'matrix cell', 'matrix')",
            {"owner": w.owner.user_id},
        ),
        update=lambda w: (
            "update public.payments set status = 'paid', paid_at = now(), fulfilment = 'fulfilled' where id = %(id)s",
            {"id": w.ids["payment"]},
        ),
        delete=lambda w: ("delete from public.payments where id = %(id)s", {"id": w.ids["payment"]}),
        inserted=_count("public.payments", "idempotency_key = 'matrix cell'"),
    ),
    "public.subscriptions": Case(
        setup=lambda w: w.ids.update(
            subscription=str(
                w.db.scalar(
                    "insert into public.subscriptions (user_id, plan, status, current_period_start, "
                    "current_period_end) values (%s, 'basic', 'active', now(), now() + interval '1 month') "
                    "returning id",
                    (w.owner.user_id,),
                )
            )
        ),
        select=lambda w: ("select * from public.subscriptions where id = %(id)s", {"id": w.ids["subscription"]}),
        insert=lambda w: (
            "insert into public.subscriptions (user_id, plan, status, current_period_start, current_period_end) "
            "values (%(other)s, 'enterprise', 'active', now(), now() + interval '10 years')",
            {"other": w.other.user_id},
        ),
        update=lambda w: (
            "update public.subscriptions set plan = 'enterprise', current_period_end = now() + interval '10 years' "
            "where id = %(id)s",
            {"id": w.ids["subscription"]},
        ),
        delete=lambda w: ("delete from public.subscriptions where id = %(id)s", {"id": w.ids["subscription"]}),
        inserted=_count("public.subscriptions", "plan = 'enterprise'"),
    ),
    "public.plans": Case(
        select=lambda w: ("select * from public.plans where code = 'basic'", {}),
        insert=lambda w: (
            "insert into public.plans (code, name_ar, name_en, price_kwd, monthly_credits, daily_bonus, max_projects) "
            "values ('matrix', 'مصفوفة', 'Matrix', 0.001, 1000000, 1000, 1000)",
            {},
        ),
        update=lambda w: ("update public.plans set price_kwd = 0.001 where code = 'basic'", {}),
        delete=lambda w: ("delete from public.plans where code = 'enterprise'", {}),
        inserted=_count("public.plans", "code = 'matrix'"),
    ),
    "public.credit_packs": Case(
        select=lambda w: ("select * from public.credit_packs where code = 'pack_50'", {}),
        insert=lambda w: (
            "insert into public.credit_packs (code, name_ar, name_en, credits, price_kwd, validity) "
            "values ('matrix', 'مصفوفة', 'Matrix', 1000000, 0.001, interval '100 years')",
            {},
        ),
        update=lambda w: ("update public.credit_packs set price_kwd = 0.001 where code = 'pack_400'", {}),
        delete=lambda w: ("delete from public.credit_packs where code = 'pack_50'", {}),
        inserted=_count("public.credit_packs", "code = 'matrix'"),
    ),
    "public.action_costs": Case(
        select=lambda w: ("select * from public.action_costs where action = 'chat_message'", {}),
        insert=lambda w: (
            "insert into public.action_costs (action, cost, name_ar, name_en) "
            "values ('matrix_cell', 0.01, 'مصفوفة', 'Matrix')",
            {},
        ),
        update=lambda w: ("update public.action_costs set cost = 0.01 where action = 'chat_message'", {}),
        delete=lambda w: ("delete from public.action_costs where action = 'deployment'", {}),
        inserted=_count("public.action_costs", "action = 'matrix_cell'"),
    ),
    "public.error_codes": Case(
        select=lambda w: ("select * from public.error_codes where code = 'VAL_001'", {}),
        insert=lambda w: (
            "insert into public.error_codes (code, http_status, message_ar, message_en) "
            "values ('MATRIX_001', 400, 'مصفوفة', 'Matrix')",
            {},
        ),
        update=lambda w: ("update public.error_codes set http_status = 500 where code = 'VAL_001'", {}),
        delete=lambda w: ("delete from public.error_codes where code = 'VAL_001'", {}),
        inserted=_count("public.error_codes", "code = 'MATRIX_001'"),
    ),
}


# --------------------------------------------------------------------------- running a cell


def classify(error: ApiError) -> str:
    if error.code == "42501":
        return RLS_VIOLATION if "row-level security" in error.message else DENIED
    return f"error {error.code}: {error.message}"


def run_cell(db: TestDatabase, world: Tenants, table: str, actor: str, command: str) -> str:
    """Run one cell as PostgREST would and say what happened; leaves nothing behind."""
    case = CASES[table]
    identity = world.identity(actor)
    conn = db._nested  # the test's transaction: the cell runs in a savepoint rolled back after it
    assert conn is not None
    with conn.transaction(force_rollback=True):
        if case.setup is not None:
            case.setup(world)
        query, params = case.statement(command, world)
        before = db.scalar(*case.inserted(world)) if command == "insert" else None
        try:
            with db.request(identity) as cur:
                cur.execute(query, params)
                count = len(cur.fetchall()) if command == "select" else cur.rowcount
        except ApiError as error:
            outcome = classify(error)
            expected_status = 403 if identity.authenticated else 401
            if outcome in (DENIED, RLS_VIOLATION):
                assert error.status == expected_status, error
            # No stray write: the failed request left the table as it was.
            if command == "insert":
                assert db.scalar(*case.inserted(world)) == before
            return outcome
        if command == "insert":
            written = db.scalar(*case.inserted(world)) - before
            return ALLOWED if count == 1 and written == 1 else f"inserted {count}, found {written}"
        return ALLOWED if count == 1 else FILTERED if count == 0 else f"{count} rows"


CELLS = [
    pytest.param(table, actor, command, id=f"{table.removeprefix('public.')}-{actor}-{command}")
    for table, actors in EXPECTATIONS.items()
    for actor in ACTORS
    for command in COMMANDS
]


@pytest.mark.parametrize(("table", "actor", "command"), CELLS)
def test_matrix_cell(kwq8_tx: TestDatabase, table: str, actor: str, command: str) -> None:
    if kwq8_tx.scalar("select to_regclass(%s)", (table,)) is None:
        pytest.skip(f"{table} is not in this schema (declared for a migration not applied here)")
    world = build_tenants(kwq8_tx)
    assert run_cell(kwq8_tx, world, table, actor, command) == EXPECTATIONS[table][actor][command]


# --------------------------------------------------------------------------- completeness

EXPOSED_RELATIONS = """
select format('%%I.%%I', n.nspname, c.relname)
from pg_class as c
inner join pg_namespace as n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f') and n.nspname = any(%s) and not c.relispartition
order by 1
"""


def exposed_relations(conn: psycopg.Connection[Any], schemas: list[str]) -> list[str]:
    return [r[0] for r in conn.execute(EXPOSED_RELATIONS, (schemas,)).fetchall()]


def undeclared(conn: psycopg.Connection[Any], schemas: list[str]) -> list[str]:
    """Relations the Data API may serve that the matrix says nothing about."""
    return [name for name in exposed_relations(conn, schemas) if name not in EXPECTATIONS]


def test_every_exposed_relation_is_declared(kwq8_tx: TestDatabase, kwq8_project: Project) -> None:
    assert kwq8_tx._nested is not None
    assert undeclared(kwq8_tx._nested, kwq8_project.exposed_schemas) == [], "declare them in EXPECTATIONS"
    assert set(CASES) == set(EXPECTATIONS)


def test_a_new_table_without_expectations_fails_the_check(kwq8_tx: TestDatabase, kwq8_project: Project) -> None:
    assert kwq8_tx._nested is not None
    before = undeclared(kwq8_tx._nested, kwq8_project.exposed_schemas)
    kwq8_tx.sql("create table public.matrix_newcomer (id bigint primary key)")
    kwq8_tx.sql("create view public.matrix_newcomer_view with (security_invoker = true) as select 1 as one")
    kwq8_tx.sql("create table private.not_exposed (id bigint primary key)")
    added = set(undeclared(kwq8_tx._nested, kwq8_project.exposed_schemas)) - set(before)
    assert added == {"public.matrix_newcomer", "public.matrix_newcomer_view"}


def test_every_declared_relation_has_every_cell() -> None:
    for table, actors in EXPECTATIONS.items():
        assert tuple(actors) == ACTORS, table
        for actor, commands in actors.items():
            assert tuple(commands) == COMMANDS, (table, actor)
            assert set(commands.values()) <= {ALLOWED, DENIED, FILTERED, RLS_VIOLATION}, (table, actor)
    assert len(CELLS) == len(EXPECTATIONS) * len(ACTORS) * len(COMMANDS)
