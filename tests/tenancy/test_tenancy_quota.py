"""The plan's project quota, enforced in the database for every role: 1 project without an
active plan, else plans.max_projects; archived projects do not count; concurrent creations
cannot overshoot it."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

from ..lock_waits import wait_for_lock_waiters
from .test_tenancy_matrix import subscribe

SERVICE = Identity.service_role()
CREATE = "insert into public.projects (name, slug, subdomain) values (%(name)s, %(name)s, %(name)s)"


def name() -> str:
    return f"q{uuid.uuid4().hex[:12]}"


def create(db: TestDatabase, user: Identity, **values: Any) -> str:
    label = name()
    with db.request(user) as cur:
        cur.execute(
            "insert into public.projects (name, slug, subdomain, status) values (%s, %s, %s, %s) returning id",
            (label, label, label, values.get("status", "draft")),
        )
        row = cur.fetchone()
    assert row is not None
    return str(row[0])


def refused(db: TestDatabase, user: Identity, **values: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        create(db, user, **values)
    return info.value


def active(db: TestDatabase, user: Identity) -> int:
    return int(
        db.scalar("select count(*) from public.projects where user_id = %s and status <> 'archived'", (user.user_id,))
    )


def test_without_a_plan_one_project(kwq8_tx: TestDatabase) -> None:
    user = kwq8_tx.create_user()
    create(kwq8_tx, user)
    error = refused(kwq8_tx, user)
    assert (error.status, error.code) == (403, "PROJ_001")
    assert error.message == "وصلت إلى الحد الأقصى لعدد المشاريع في باقتك"
    assert error.details == "Project quota reached: without an active plan 1 active project is allowed"
    assert error.hint == "archive a project or upgrade the plan"
    assert active(kwq8_tx, user) == 1
    # Published or draft, the same quota.
    assert refused(kwq8_tx, user, status="published").code == "PROJ_001"


@pytest.mark.parametrize(("plan", "limit"), [("basic", 3), ("pro", 10), ("premium", 25), ("enterprise", 100)])
def test_each_plan_allows_its_max_projects(kwq8_tx: TestDatabase, plan: str, limit: int) -> None:
    user = kwq8_tx.create_user()
    subscribe(kwq8_tx, user, plan)
    assert kwq8_tx.scalar("select max_projects from public.plans where code = %s", (plan,)) == limit
    for _ in range(limit):
        create(kwq8_tx, user)
    error = refused(kwq8_tx, user)
    assert error.code == "PROJ_001" and f"the {plan} plan allows {limit} active projects" in (error.details or "")
    assert active(kwq8_tx, user) == limit


def test_archived_projects_do_not_count(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    user = db.create_user()
    first = create(db, user)
    with db.request(user) as cur:
        cur.execute("update public.projects set status = 'archived' where id = %s", (first,))
    second = create(db, user)
    # Any number of archived projects may be kept or created.
    create(db, user, status="archived")
    create(db, user, status="archived")
    # Bringing an archived one back needs room for it.
    with pytest.raises(ApiError) as info, db.request(user) as cur:
        cur.execute("update public.projects set status = 'draft' where id = %s", (first,))
    assert info.value.code == "PROJ_001"
    with db.request(user) as cur:
        cur.execute("update public.projects set status = 'archived' where id = %s", (second,))
        cur.execute("update public.projects set status = 'published' where id = %s", (first,))
    assert active(db, user) == 1
    # Changes that do not add an active project are never refused, even over the quota.
    with db.request(user) as cur:
        cur.execute("update public.projects set name = 'renamed', status = 'draft' where id = %s", (first,))


def test_an_ended_plan_falls_back_to_one_project(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    user = db.create_user()
    db.freeze_time("2030-01-10T10:00:00+03:00")
    db.sql(
        "update public.users set plan = 'basic', plan_period_start = '2030-01-01T00:00:00+03:00', "
        "plan_period_end = '2030-02-01T00:00:00+03:00' where id = %s",
        (user.user_id,),
    )
    create(db, user)
    create(db, user)
    db.freeze_time("2030-02-01T00:00:00+03:00")
    # Existing projects stay; a new one needs the plan renewed or the others archived.
    assert refused(db, user).code == "PROJ_001"
    assert active(db, user) == 2


def test_the_quota_holds_for_service_role_and_transfers(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    full, other = db.create_user(), db.create_user()
    create(db, full)
    with pytest.raises(ApiError) as info, db.request(SERVICE) as cur:
        cur.execute(
            "insert into public.projects (user_id, name, slug, subdomain) values (%s, 'svc', 'svc', 'svc-site')",
            (full.user_id,),
        )
    assert info.value.code == "PROJ_001"
    moved = create(db, other)
    with pytest.raises(ApiError) as info, db.request(SERVICE) as cur:
        cur.execute("update public.projects set user_id = %s where id = %s", (full.user_id, moved))
    assert info.value.code == "PROJ_001"
    assert active(db, full) == 1 and active(db, other) == 1


def test_a_refused_forgery_reveals_nothing_about_the_victims_quota(kwq8_tx: TestDatabase) -> None:
    db = kwq8_tx
    victim, attacker = db.create_user(), db.create_user()
    create(db, victim)  # the victim is at their quota
    with pytest.raises(ApiError) as info, db.request(attacker) as cur:
        cur.execute(
            "insert into public.projects (user_id, name, slug, subdomain) values (%s, 'f', 'f', 'forged-site')",
            (victim.user_id,),
        )
    # The policy answers first: the same refusal whatever the victim's quota.
    assert (info.value.status, info.value.code) == (403, "42501")


# --------------------------------------------------------------------------- concurrency


@pytest.mark.slow
def test_parallel_creations_never_exceed_the_quota(kwq8_db: TestDatabase) -> None:
    db = kwq8_db
    free, basic = db.create_user(), db.create_user()
    subscribe(db, basic, "basic")
    threads_per_user = 8
    barrier = threading.Barrier(threads_per_user * 2)
    results: dict[str, list[str]] = {free.user_id or "": [], basic.user_id or "": []}
    lock = threading.Lock()

    def attempt(user: Identity) -> None:
        api = db.api()  # its own connection, as separate PostgREST requests
        barrier.wait()
        try:
            with api.request(user) as cur:
                cur.execute(CREATE, {"name": name()})
            outcome = "created"
        except ApiError as error:
            outcome = error.code
        with lock:
            results[user.user_id or ""].append(outcome)

    threads = [threading.Thread(target=attempt, args=(u,)) for u in (free, basic) for _ in range(threads_per_user)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results[free.user_id or ""]) == ["PROJ_001"] * 7 + ["created"]
    assert sorted(results[basic.user_id or ""]) == ["PROJ_001"] * 5 + ["created"] * 3
    assert active(db, free) == 1 and active(db, basic) == 3


def test_a_second_creation_waits_for_the_first_to_finish(kwq8_db: TestDatabase) -> None:
    """Deterministic version of the race: while one transaction has created the user's only
    project but not committed, a second creation blocks on the per-owner lock, then sees the
    committed project and is refused."""
    db = kwq8_db
    user = db.create_user()
    first, second = db.api(), db.api()
    outcome: list[str] = []

    def create_second() -> None:
        try:
            with second.request(user) as cur:
                cur.execute(CREATE, {"name": name()})
            outcome.append("created")
        except ApiError as error:
            outcome.append(error.code)

    with first.request(user) as cur:
        cur.execute(CREATE, {"name": name()})
        waiter = threading.Thread(target=create_second)
        waiter.start()
        assert wait_for_lock_waiters(db, 1, locktype="advisory") == 1
        assert waiter.is_alive() and outcome == []  # blocked behind the first transaction
    waiter.join(timeout=10)
    assert outcome == ["PROJ_001"]
    assert active(db, user) == 1


def test_a_rolled_back_creation_frees_its_place(kwq8_db: TestDatabase) -> None:
    db = kwq8_db
    user = db.create_user()
    first, second = db.api(), db.api()
    outcome: list[str] = []

    def create_second() -> None:
        with second.request(user) as cur:
            cur.execute(CREATE, {"name": name()})
        outcome.append("created")

    with pytest.raises(ApiError), first.request(user) as cur:
        cur.execute(CREATE, {"name": name()})
        waiter = threading.Thread(target=create_second)
        waiter.start()
        wait_for_lock_waiters(db, 1, locktype="advisory")
        cur.execute("select 1 / 0")  # the first request fails after creating its project
    waiter.join(timeout=10)
    assert outcome == ["created"] and active(db, user) == 1
