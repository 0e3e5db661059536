"""Storage object names that a path normaliser would read differently are refused on write.

`<B>/../<A>/x` has B's project as its first folder, so the folder check alone lets B's owner
write it; any backend or CDN that resolves dot segments would serve it from A's folder.
"""

from __future__ import annotations

import pytest

from kwq8.testing.database import TestDatabase

from .test_storage_policies import MOVE, objects, refused, storage, upload, world
from .test_tenancy_matrix import Tenants

__all__ = ["world"]  # the fixture, shared with the storage policy tests

UNSAFE = [
    "{p}/../{other}/x.png",
    "{p}/public/../../{other}/public/x.png",
    "{p}/./x.png",
    "{p}/.",
    "{p}/..",
    "{p}//x.png",
    "{p}/x.png/",
    "{p}/gallery\\..\\x.png",
    "{p}/%2e%2e/{other}/x.png",
    "{p}/%2E%2e%2F{other}%2fx.png",
    "{p}/a%5cb.png",
    "{p}/x\u0001.png",
    "{p}/x\u0007.png",
    "{p}/x\n.png",
    "{p}/x\u007f.png",
]


@pytest.mark.parametrize("template", UNSAFE)
def test_unsafe_names_are_refused_on_upload_and_move(kwq8_tx: TestDatabase, world: Tenants, template: str) -> None:
    db = kwq8_tx
    name = template.format(p=world.project, other=world.other_project)
    before = objects(db)
    error = refused(lambda: upload(db, world.owner, name))
    assert (error.status, error.code) == (403, "42501")
    error = refused(
        lambda: storage(
            db,
            world.owner,
            MOVE,
            "update storage.objects set name = %s where name = %s",
            (name, f"{world.project}/logo.png"),
        )
    )
    assert (error.status, error.code) == (403, "42501")
    assert objects(db) == before


@pytest.mark.parametrize(
    "path", [".emptyFolderPlaceholder", "a..b.png", "...", "v1.2/logo.png", "صور/شعار 1.png", "100%.png", "%41.png"]
)
def test_unusual_but_unambiguous_names_are_accepted(kwq8_tx: TestDatabase, world: Tenants, path: str) -> None:
    name = f"{world.project}/{path}"
    assert upload(kwq8_tx, world.owner, name) == [name]
