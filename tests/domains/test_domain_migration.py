"""The domains migration undoes itself exactly: a database migrated to the head and taken back
below the domains revision has the same tables, columns, constraints, indexes, policies and
error codes as one that never had it, and migrating up again gives the head back."""

from __future__ import annotations

import ast
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from kwq8 import migrations
from kwq8.config import Project, find_project
from kwq8.db import Target, connect
from kwq8.sqlfile import split_statements

from ..conftest import ROOT, ScratchProject

# The schema as the database holds it; functions are left out (repeatable files stay applied
# whatever the revision: the domain ones go with their schema).
CATALOG = """
select 'col', table_schema || '.' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
    || ' ' || coalesce(column_default, '')
from information_schema.columns where table_schema in ('public', 'private', 'billing', 'payments', 'domains')
union all
select 'con', n.nspname || '.' || r.relname || '.' || c.conname || ' ' || pg_get_constraintdef(c.oid)
from pg_constraint c join pg_class r on r.oid = c.conrelid join pg_namespace n on n.oid = r.relnamespace
where n.nspname in ('public', 'private', 'billing', 'payments', 'domains')
union all
select 'idx', schemaname || '.' || indexname || ' ' || indexdef from pg_indexes
where schemaname in ('public', 'private', 'billing', 'payments', 'domains')
union all
select 'pol', schemaname || '.' || tablename || '.' || policyname from pg_policies
union all
select 'code', code || ' ' || http_status || ' ' || message_en from public.error_codes
union all
select 'schema', nspname from pg_namespace where nspname = 'domains'
order by 1, 2
"""


def catalog(target: Target) -> list[tuple[Any, ...]]:
    with connect(target.url) as conn:
        return conn.execute(CATALOG).fetchall()


def domains_revision(root: Path) -> tuple[Path, str, list[str]]:
    """The domains revision file, the revision it follows and its SQL files."""
    [path] = sorted((root / "migrations" / "versions").glob("*_domains.py"))
    values = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    return path, str(values["down_revision"]), list(values["sql_files"])


def _sql_files(path: Path) -> list[str]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "sql_files":
            return list(ast.literal_eval(node.value))
    return []


def later_types(root: Path) -> list[str]:
    """The `create type` and `create schema` statements of the revisions after the domains
    revision, in order: the head's function files answer with these types and define functions
    in these schemas, so a database without those revisions needs them before it can hold the
    head's functions."""
    path, _, _ = domains_revision(root)
    later = sorted(p for p in path.parent.glob("*.py") if p.name > path.name)
    return [
        statement
        for revision in later
        for name in _sql_files(revision)
        for _, statement in split_statements((root / "sql" / name).read_text())
        if re.search(r"(?m)^create (?:type|schema) ", statement)
    ]


def without_domains(scratch: ScratchProject) -> Project:
    """This project as it was before the domains revision."""
    root = scratch.root
    for folder in ("migrations/versions", "sql", "functions", "policies"):
        shutil.rmtree(root / folder)
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    path, _, files = domains_revision(root)
    # The revisions after it go too (the downgrade below undoes them first); their function
    # files stay, as they stay applied in the downgraded database.
    later = sorted(p for p in path.parent.glob("*.py") if p.name > path.name)
    for revision in [path, *later]:
        revision_files = files if revision == path else _sql_files(revision)
        revision.unlink()
        for name in revision_files:
            created = re.findall(
                r"create table (?:if not exists )?([a-z_]+\.[a-z_]+)", (root / "sql" / name).read_text()
            )
            (root / "sql" / name).unlink()
            (root / "sql" / name.replace(".sql", ".down.sql")).unlink(missing_ok=True)
            # The policies of a later revision's tables go with those tables.
            for policy in (root / "policies").glob("*.sql"):
                if revision != path and any(table in policy.read_text() for table in created):
                    policy.unlink()
    shutil.rmtree(root / "functions" / "domains")
    for policy in (root / "policies").glob("domain_*.sql"):
        policy.unlink()
    return find_project(root)


def test_domains_migration_goes_down_exactly_and_up_again(
    kwq8_project: Project, scratch: ScratchProject, blank_db: Target, kwq8_stack: Any
) -> None:
    _, previous, _ = domains_revision(ROOT)
    migrations.migrate(kwq8_project, blank_db)
    head = catalog(blank_db)
    assert ("schema", "domains") in head

    migrations.downgrade(kwq8_project, blank_db, previous)
    down = catalog(blank_db)
    assert ("schema", "domains") not in down
    assert [row[1] for row in down if row[0] == "code" and row[1].startswith("DOM_")] == [
        "DOM_001 409 Domain unavailable"
    ]
    assert not [row for row in down if row[1].startswith(("public.domain_", "payments.purpose"))]

    name = f"never_{uuid.uuid4().hex[:10]}"
    never = Target(kwq8_stack.url("postgres", name))
    kwq8_stack.create_database(name)
    kwq8_stack.install_shim(name)
    try:
        # Its function files are the head's, which name what the removed revisions create: only
        # the schema is compared here, so their bodies are not checked against it, and the result
        # types they return and the schemas they live in are created beforehand (neither is part
        # of the comparison).
        types = later_types(ROOT)
        assert types, "the head's function files return types of a later revision"
        with connect(never.url) as conn:
            for statement in types:
                conn.execute(statement)
        migrations.migrate(without_domains(scratch), never, check_bodies=False)
        assert down == catalog(never)
    finally:
        kwq8_stack.drop_database(name)

    migrations.migrate(kwq8_project, blank_db)
    assert catalog(blank_db) == head
