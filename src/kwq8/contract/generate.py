"""`kwq8 gen types`: write (or check) the generated contract files."""

from __future__ import annotations

import difflib
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kwq8.config import Project
from kwq8.contract import api_md, catalog, docs_md, errors_ts, zod
from kwq8.db import connect
from kwq8.errors import Kwq8Error
from kwq8.pgserver import free_port, state_root
from kwq8.stack import Stack

FILES = ("types/database.ts", "types/schemas.ts", "types/errors.ts", "docs/frontend.md", "docs/api.md")
POSTGRES_META = "node_modules/@supabase/postgres-meta/dist/server/server.js"


def database_ts(project: Project, url: str) -> str:
    """Supabase's own generator, offline: the file `supabase gen types typescript` prints."""
    server = project.root / POSTGRES_META
    if not server.exists():
        raise Kwq8Error(f"{POSTGRES_META} is missing", hint="run scripts/install (npm ci)", exit_code=2)
    env = {
        **os.environ,
        "PG_META_DB_URL": url,
        "PG_META_GENERATE_TYPES": "typescript",
        # The schemas the Data API exposes that exist here (graphql_public is Supabase's own).
        "PG_META_GENERATE_TYPES_INCLUDED_SCHEMAS": "public",
        "PG_META_GENERATE_TYPES_DETECT_ONE_TO_ONE_RELATIONSHIPS": "true",
    }
    run = subprocess.run(
        ["node", str(server)], env=env, cwd=project.root, capture_output=True, text=True, timeout=300, check=False
    )
    if run.returncode != 0 or "export type Database" not in run.stdout:
        raise Kwq8Error(f"postgres-meta failed: {run.stderr.strip()[-500:]}")
    return run.stdout


def render(project: Project, url: str) -> dict[str, str]:
    """Every generated file, from a migrated and seeded database (docs/api.md runs its examples on the seed)."""
    with connect(url, autocommit=True) as conn:
        cat = catalog.read(conn)
        api = api_md.render(cat, conn, project.root)
    return {
        "types/database.ts": database_ts(project, url),
        "types/schemas.ts": zod.ZodWriter(cat).render(),
        "types/errors.ts": errors_ts.render(cat),
        "docs/frontend.md": docs_md.render(cat, project.root),
        "docs/api.md": api,
    }


@contextmanager
def scratch_database(project: Project, echo: Callable[[str], None]) -> Iterator[str]:
    """A throwaway cluster with the project migrated and seeded (what CI and --check use)."""
    state = state_root() / f"gen-{project.project_id}-{uuid.uuid4().hex[:8]}"
    stack = Stack(project, state_dir=state, port=free_port(), fast=True)
    try:
        echo("migrating and seeding a scratch database")
        stack.start(migrate=True, seed=True)
        yield stack.url()
    finally:
        stack.destroy()


def render_for(project: Project, db_url: str | None, echo: Callable[[str], None]) -> dict[str, str]:
    """The generated files from that (migrated) database, or without one from a scratch database
    migrated from this tree, so that they depend on the migrations alone."""
    if db_url:
        return render(project, db_url)
    with scratch_database(project, echo) as url:
        return render(project, url)


def drift(project: Project, files: dict[str, str]) -> list[str]:
    """A unified diff per committed file that differs from the generated one."""
    diffs = []
    for rel, text in files.items():
        path = project.root / rel
        current = path.read_text() if path.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"{rel} (committed)",
                f"{rel} (generated)",
            )
            diffs.append("".join(list(diff)[:60]))
    return diffs


def write(project: Project, files: dict[str, str]) -> list[str]:
    changed = []
    for rel, text in files.items():
        path = project.root / rel
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(rel)
    return changed
