"""Storage policies of the project-assets bucket, exercised as the Storage API runs its queries:
as the caller's role with the JWT claims, and `storage.operation` naming the request
(storage.object.upload, storage.object.list, storage.object.get_authenticated, ...).

Owners read and write their projects' folders (<project_id>/...); anyone may fetch a published
project's <project_id>/public/... assets one at a time; nobody lists another project's files.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kwq8.postgrest import ApiError, Identity
from kwq8.testing.database import TestDatabase

from .test_tenancy_matrix import Tenants, add_project, build_tenants

# Also run on PostgreSQL 17 in CI (scripts/test).
pytestmark = pytest.mark.pg17

ANON = Identity.anon()
BUCKET = "project-assets"

GET = "storage.object.get_authenticated"
INFO = "storage.object.info_authenticated"
RENDER = "storage.render.image_authenticated"
LIST = "storage.object.list"
LIST_V2 = "storage.object.list_v2"
SIGN = "storage.object.sign"
SIGN_MANY = "storage.object.sign_many"
UPLOAD = "storage.object.upload"
UPDATE = "storage.object.upload_update"
MOVE = "storage.object.move"
DELETE = "storage.object.delete"


@pytest.fixture
def world(kwq8_tx: TestDatabase) -> Tenants:
    world = build_tenants(kwq8_tx)
    for project in (world.project, world.other_project):
        for path in ("logo.png", "public/hero.jpg", "public/css/site.css", "drafts/plan.pdf"):
            put(kwq8_tx, f"{project}/{path}")
    return world


def put(db: TestDatabase, name: str, bucket: str = BUCKET) -> None:
    """An object as the Storage service itself would store it (no policy in the way)."""
    db.sql(
        "insert into storage.objects (bucket_id, name, metadata) values (%s, %s, '{\"size\": 1}')",
        (bucket, name),
    )


def storage(db: TestDatabase, who: Identity, operation: str, query: str, params: Any = None) -> Any:
    """One Storage API request: its rows for a query, its row count for a write."""
    with db.request(who) as cur:
        cur.execute("select set_config('storage.operation', %s, true)", (operation,))
        if query.lstrip().lower().startswith("delete"):
            # What the Storage API sets for its own deletes, past storage.protect_delete().
            cur.execute("select set_config('storage.allow_delete_query', 'true', true)")
        cur.execute(query, params)
        return [r[0] for r in cur.fetchall()] if cur.description else cur.rowcount


def get(db: TestDatabase, who: Identity, name: str, operation: str = GET) -> list[str]:
    return storage(
        db, who, operation, "select name from storage.objects where bucket_id = %s and name = %s", (BUCKET, name)
    )


def listing(db: TestDatabase, who: Identity, prefix: str = "", operation: str = LIST) -> list[str]:
    return sorted(
        storage(
            db,
            who,
            operation,
            "select name from storage.objects where bucket_id = %s and name like %s",
            (BUCKET, prefix + "%"),
        )
    )


def upload(db: TestDatabase, who: Identity, name: str, bucket: str = BUCKET) -> Any:
    # The Storage API inserts with RETURNING: the new object must also be readable by the caller.
    return storage(
        db,
        who,
        UPLOAD,
        "insert into storage.objects (bucket_id, name, owner_id, metadata) values (%s, %s, %s, '{}') returning name",
        (bucket, name, who.user_id),
    )


def refused(call: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


def objects(db: TestDatabase) -> list[dict[str, Any]]:
    return db.sql("select bucket_id, name, metadata from storage.objects order by bucket_id, name")


def test_bucket_is_private_with_limits(kwq8_tx: TestDatabase) -> None:
    row = kwq8_tx.sql(
        "select public, file_size_limit, allowed_mime_types from storage.buckets where id = %s", (BUCKET,)
    )
    assert row == [
        {
            "public": False,
            "file_size_limit": 10 * 1024 * 1024,
            "allowed_mime_types": ["image/*", "font/*", "application/pdf", "video/mp4", "video/webm"],
        }
    ]


def test_owner_reads_and_writes_their_project_folder(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db, owner, p = kwq8_tx, world.owner, world.project
    assert upload(db, owner, f"{p}/gallery/1.jpg") == [f"{p}/gallery/1.jpg"]
    assert upload(db, owner, f"{p}/public/أيقونة-🎉.png") == [f"{p}/public/أيقونة-🎉.png"]
    mine = [
        f"{p}/{n}"
        for n in (
            "drafts/plan.pdf",
            "gallery/1.jpg",
            "logo.png",
            "public/css/site.css",
            "public/hero.jpg",
            "public/أيقونة-🎉.png",
        )
    ]
    assert listing(db, owner, f"{p}/") == sorted(mine)
    # Listing the whole bucket shows the owner's files only.
    assert listing(db, owner) == sorted(mine)
    assert get(db, owner, f"{p}/drafts/plan.pdf") == [f"{p}/drafts/plan.pdf"]
    assert (
        storage(
            db,
            owner,
            UPDATE,
            "update storage.objects set metadata = '{\"size\": 2}' where name = %s",
            (f"{p}/logo.png",),
        )
        == 1
    )
    assert (
        storage(
            db,
            owner,
            MOVE,
            "update storage.objects set name = %s where name = %s",
            (f"{p}/brand/logo.png", f"{p}/logo.png"),
        )
        == 1
    )
    assert (
        storage(
            db,
            owner,
            DELETE,
            "delete from storage.objects where bucket_id = %s and name = %s",
            (BUCKET, f"{p}/gallery/1.jpg"),
        )
        == 1
    )


@pytest.mark.parametrize(
    "target",
    [
        "{other}/x.png",  # another tenant's project
        "{other}/public/x.png",
        "x.png",  # the bucket's root
        "not-a-project/x.png",
        "{upper}/x.png",  # not the canonical id
        "{random}/x.png",  # a project that does not exist
        "../{other}/x.png",
    ],
)
def test_owner_cannot_write_outside_their_folders(kwq8_tx: TestDatabase, world: Tenants, target: str) -> None:
    db = kwq8_tx
    name = target.format(other=world.other_project, upper=world.project.upper(), random=uuid.uuid4())
    before = objects(db)
    error = refused(lambda: upload(db, world.owner, name))
    assert (error.status, error.code) == (403, "42501") and "row-level security" in error.message
    assert objects(db) == before


def test_owner_cannot_move_files_to_another_tenant(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db, owner = kwq8_tx, world.owner
    before = objects(db)
    error = refused(
        lambda: storage(
            db,
            owner,
            MOVE,
            "update storage.objects set name = %s where name = %s",
            (f"{world.other_project}/stolen.png", f"{world.project}/logo.png"),
        )
    )
    assert (error.status, error.code) == (403, "42501")
    # Nor into another bucket: the policies cover project-assets only.
    db.sql("insert into storage.buckets (id, name) values ('elsewhere', 'elsewhere')")
    error = refused(
        lambda: storage(
            db,
            owner,
            MOVE,
            "update storage.objects set bucket_id = 'elsewhere' where name = %s",
            (f"{world.project}/logo.png",),
        )
    )
    assert error.code == "42501"
    assert refused(lambda: upload(db, owner, f"{world.project}/x.png", bucket="elsewhere")).code == "42501"
    assert objects(db) == before


def test_nobody_changes_another_projects_files(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db = kwq8_tx
    before = objects(db)
    for who in (world.other, ANON):
        name = f"{world.project}/public/hero.jpg"
        assert storage(db, who, DELETE, "delete from storage.objects where name = %s", (name,)) == 0
        assert storage(db, who, UPDATE, "update storage.objects set metadata = '{}' where name = %s", (name,)) == 0
    error = refused(lambda: upload(db, ANON, f"{world.project}/public/new.png"))
    assert (error.status, error.code) == (401, "42501")
    assert objects(db) == before


# Every request that scans: the list endpoints, S3 listing, and a query with no operation named.
# (Single-object reads, signing included, look names up exactly; see the next test.)
@pytest.mark.parametrize("operation", [LIST, LIST_V2, "", "storage.s3.object.list", "storage.bucket.empty"])
def test_nobody_lists_another_projects_files(kwq8_tx: TestDatabase, world: Tenants, operation: str) -> None:
    db = kwq8_tx
    # A whole-bucket or whole-folder scan returns none of the owner's files, public ones included;
    # the other user sees only their own project's.
    for who in (world.other, ANON):
        names = listing(db, who, operation=operation)
        assert [n for n in names if n.startswith(world.project)] == []
        assert listing(db, who, f"{world.project}/public/", operation=operation) == []
    assert listing(db, ANON, operation=operation) == []
    assert all(n.startswith(world.other_project) for n in listing(db, world.other, operation=operation))


def test_published_projects_public_assets_are_readable_one_at_a_time(kwq8_tx: TestDatabase, world: Tenants) -> None:
    db, p = kwq8_tx, world.project
    hero = f"{p}/public/hero.jpg"
    for who in (ANON, world.other):
        # Signing included: a published site's <img> URLs are signed URLs (createSignedUrl(s)).
        for operation in (GET, INFO, RENDER, SIGN, SIGN_MANY):
            assert get(db, who, hero, operation) == [hero], (who.role, operation)
        assert get(db, who, f"{p}/public/css/site.css") == [f"{p}/public/css/site.css"]
        # Not the private files (signed or not), not by listing, not with no operation named.
        for operation in (GET, SIGN, SIGN_MANY):
            assert get(db, who, f"{p}/logo.png", operation) == []
            assert get(db, who, f"{p}/drafts/plan.pdf", operation) == []
        for operation in (LIST, LIST_V2, UPLOAD, ""):
            assert get(db, who, hero, operation) == [], (who.role, operation)


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_unpublished_projects_show_nothing(kwq8_tx: TestDatabase, world: Tenants, status: str) -> None:
    db = kwq8_tx
    hero = f"{world.project}/public/hero.jpg"
    db.sql("update public.projects set status = %s where id = %s", (status, world.project))
    for operation in (GET, SIGN, SIGN_MANY):
        assert get(db, ANON, hero, operation) == []
        assert get(db, world.other, hero, operation) == []
    # The owner keeps full access to their own files.
    assert get(db, world.owner, hero) == [hero]
    draft = add_project(db, world.owner, status="draft")
    put(db, f"{draft}/public/soon.png")
    assert get(db, ANON, f"{draft}/public/soon.png") == []
