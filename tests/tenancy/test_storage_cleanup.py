"""A deleted project's Storage files go through the Storage API (the storage cleanup job and a
fake of storage-api's bulk delete), never by deleting storage.objects rows in SQL, which the
protect-delete trigger of Supabase's storage schema refuses."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest

from kwq8 import storage_cleanup
from kwq8.fake_storage import FakeStorage
from kwq8.postgrest import Identity
from kwq8.testing.database import TestDatabase

from ..conftest import run_cli
from ..credit_helpers import expect_error

SERVICE_KEY = "service-role-key-for-tests"
BUCKET = "project-assets"


def _project(db: TestDatabase, owner: Identity, status: str = "published") -> str:
    return str(
        db.scalar(
            "insert into public.projects (user_id, name, slug, subdomain, status) values (%s, 'Site', %s, %s, %s) "
            "returning id",
            (owner.user_id, f"s-{uuid.uuid4().hex[:8]}", f"s-{uuid.uuid4().hex[:8]}", status),
        )
    )


def _put(db: TestDatabase, names: list[str]) -> None:
    db.sql(
        "insert into storage.objects (bucket_id, name, metadata) "
        "select %s, n, '{\"size\": 1}' from unnest(%s::text[]) as n",
        (BUCKET, names),
    )


def _names(db: TestDatabase, prefix: str) -> list[str]:
    return [
        r["name"] for r in db.sql("select name from storage.objects where name like %s order by name", (prefix + "%",))
    ]


def test_direct_sql_delete_of_storage_objects_is_refused_as_on_supabase(kwq8_db: TestDatabase) -> None:
    db = kwq8_db
    owner = db.create_user()
    project = _project(db, owner)
    _put(db, [f"{project}/public/a.png"])
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="Use the Storage API"):
        db.sql("delete from storage.objects where name like %s", (project + "/%",))


def test_deleting_a_project_deletes_its_files_through_the_storage_api_in_batches(kwq8_db: TestDatabase) -> None:
    db = kwq8_db
    owner, neighbour = db.create_user(), db.create_user()
    doomed, kept, other = _project(db, owner), _project(db, owner, "archived"), _project(db, neighbour)
    doomed_files = [f"{doomed}/public/img-{i:04d}.png" for i in range(2100)] + [f"{doomed}/drafts/plan.pdf"]
    _put(db, [*doomed_files, f"{kept}/public/logo.png", f"{other}/public/logo.png"])
    with db.request(owner) as cur:
        cur.execute("delete from public.projects where id = %s", (doomed,))
    assert db.scalar("select count(*) from private.storage_cleanups where done_at is null") == 1
    with FakeStorage(db.url(), SERVICE_KEY) as fake:
        fake.fail_next = [503]
        report = storage_cleanup.run(db.url(), fake.url, SERVICE_KEY)
        assert report.errors == 1 and report.deleted == 0
        assert db.scalar("select last_error from private.storage_cleanups") == "Storage API answered HTTP 503"
        report = storage_cleanup.run(db.url(), fake.url, SERVICE_KEY)
    assert (report.deleted, report.done, report.errors) == (len(doomed_files), 1, 0)
    # One request per 1,000 names at most, each with the service key, only the doomed folder.
    bodies = [json.loads(c["body"]) for c in fake.calls[1:]]
    assert [len(b["prefixes"]) for b in bodies] == [1000, 1000, 101]
    assert all(c["authorization"] == f"Bearer {SERVICE_KEY}" for c in fake.calls)
    assert all(n.startswith(f"{doomed}/") for b in bodies for n in b["prefixes"])
    assert _names(db, doomed + "/") == []
    assert _names(db, kept) == [f"{kept}/public/logo.png"] and _names(db, other) == [f"{other}/public/logo.png"]
    assert db.scalar("select done_at is not null from private.storage_cleanups where project_id = %s", (doomed,))
    # Nothing left to do: a run makes no request.
    with FakeStorage(db.url(), SERVICE_KEY) as fake:
        assert storage_cleanup.run(db.url(), fake.url, SERVICE_KEY).requests == 0


def test_cleanup_calls_are_for_trusted_servers_only(kwq8_tx: TestDatabase, anon: Identity) -> None:
    db = kwq8_tx
    user = db.create_user()
    for who in (anon, user):
        expect_error(lambda who=who: db.rpc("storage_cleanup_batch", as_=who), "42501")
    expect_error(
        lambda: db.rpc("storage_cleanup_batch", {"max_projects": 0}, as_=Identity.service_role()), "VAL_001", 400
    )


def test_storage_cleanup_command_runs_the_job(kwq8_db: TestDatabase) -> None:
    db = kwq8_db
    owner = db.create_user()
    project = _project(db, owner)
    _put(db, [f"{project}/public/a.png", f"{project}/b.png"])
    db.sql("delete from public.projects where id = %s", (project,))
    missing = run_cli("jobs", "storage-cleanup", "--db-url", db.url(), "--yes", env={"KWQ8_DB_URL": ""})
    assert missing.code == 2 and "SUPABASE_URL" in missing.stderr
    with FakeStorage(db.url(), SERVICE_KEY) as fake:
        origin = fake.url.removesuffix("/storage/v1")
        env = {"SUPABASE_URL": origin, "SUPABASE_SERVICE_ROLE_KEY": SERVICE_KEY, "KWQ8_DB_URL": ""}
        result = run_cli("jobs", "storage-cleanup", "--db-url", db.url(), "--yes", "--json", env=env)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"requests": 1, "deleted": 2, "errors": 0, "done": 1}
    assert _names(db, project) == []
