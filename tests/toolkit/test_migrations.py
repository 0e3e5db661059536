"""Migrations: atomic runs, repeatable files, locking, plan/status/history/new/downgrade."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from kwq8 import migrations
from kwq8.db import Target, connect
from kwq8.errors import Kwq8Error
from kwq8.migrations import MigrationFailed

from ..conftest import ScratchProject

# Also run on PostgreSQL 17 in CI (scripts/test).
pytestmark = pytest.mark.pg17


def q(target: Target, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connect(target.url) as conn:
        return conn.execute(sql, params).fetchall()


def table_exists(target: Target, name: str) -> bool:
    return bool(q(target, "select to_regclass(%s) is not null", (name,))[0][0])


def snapshot(target: Target) -> list[tuple[Any, ...]]:
    """Every user-visible relation, function and policy: equal snapshots mean nothing changed."""
    return q(
        target,
        """
        select 'rel', n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('public', 'private', 'kwq8_meta', 'app')
        union all
        select 'fn', p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('public', 'private', 'app')
        union all
        select 'pol', schemaname || '.' || tablename || '.' || policyname from pg_policies
        where schemaname in ('public', 'app')
        order by 1, 2
    """,
    ) + (
        q(target, "select 'ver', version_num from kwq8_meta.alembic_version")
        if table_exists(target, "kwq8_meta.alembic_version")
        else []
    )


def test_migrate_from_empty_applies_everything_and_records_history(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "notes", "create table public.notes (id bigint primary key, body text);\n")
    scratch.revision(2, "tags", "create table public.tags (id bigint primary key);\n")
    scratch.write(
        "functions/app/note_count.sql",
        "create or replace function public.note_count() returns bigint\n"
        "language sql stable as $$ select count(*) from public.notes $$;\n",
    )
    result = migrations.migrate(scratch.project, blank_db)
    assert result.applied == ["0001", "0002"]
    assert result.repeatables == ["functions/app/note_count.sql"]
    assert table_exists(blank_db, "public.tags")
    st = migrations.status(scratch.project, blank_db)
    assert st.current == "0002" and st.up_to_date
    history = migrations.history(blank_db)
    assert [(h["kind"], h["name"]) for h in history] == [
        ("versioned", "0001"),
        ("versioned", "0002"),
        ("repeatable", "function"),
    ]
    assert all(h["applied_by"] == "postgres" for h in history)
    # A second run has nothing to do.
    again = migrations.migrate(scratch.project, blank_db)
    assert not again.changed


def test_failed_revision_leaves_database_exactly_as_it_was(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "first", "create table public.first (id bigint primary key);\n")
    migrations.migrate(scratch.project, blank_db)
    before = snapshot(blank_db)
    scratch.revision(2, "second", "create table public.second (id bigint primary key);\n")
    scratch.revision(
        3,
        "broken",
        "-- a comment\ncreate table public.third (id bigint primary key);\n\ncreate tabel public.oops (id int);\n",
    )
    scratch.write(
        "functions/f.sql",
        "create or replace function public.f() returns int language sql as $$ select 1 $$;\n",
    )
    with pytest.raises(MigrationFailed) as info:
        migrations.migrate(scratch.project, blank_db)
    message = str(info.value)
    assert "sql/0003_broken.sql:4" in message
    assert "42601" in message and "syntax error" in message
    assert snapshot(blank_db) == before
    assert not table_exists(blank_db, "public.second")
    assert [h["name"] for h in migrations.history(blank_db)] == ["0001"]


def test_failed_repeatable_file_rolls_back_pending_revisions(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "first", "create table public.first (id bigint primary key);\n")
    scratch.write(
        "functions/bad.sql",
        "create or replace function public.bad() returns int\n"
        "language sql as $$ select 1 $$;\n"
        "grant execute on function public.bad(integer) to authenticated;\n",
    )
    with pytest.raises(MigrationFailed) as info:
        migrations.migrate(scratch.project, blank_db)
    assert "functions/bad.sql:3" in str(info.value) and "42883" in str(info.value)
    assert not table_exists(blank_db, "public.first")
    assert migrations.status(scratch.project, blank_db).current is None


PITFALLS = r"""
create table public.docs (id bigint primary key, meta jsonb, label text);
insert into public.docs values (1, '{"a":1, "b": {"c":2}}'::jsonb, 'time :minutes and 50% off');
create or replace function public.describe(d public.docs) returns text
language plpgsql stable as $fn$
declare
    result text := format('%s has %s%%', d.label, d.meta ->> 'a');
begin
    if d.label like '50%' or d.label like '%:minutes%' then
        raise notice 'matched %', d.id;
    end if;
    return result || $inner$ and $$dollars$$ $inner$;
end
$fn$;
"""


def test_sql_with_colons_percent_signs_and_dollar_quotes_reaches_postgres_verbatim(
    scratch: ScratchProject, blank_db: Target
) -> None:
    scratch.revision(1, "pitfalls", PITFALLS)
    migrations.migrate(scratch.project, blank_db)
    assert q(blank_db, "select meta, label from public.docs") == [
        ({"a": 1, "b": {"c": 2}}, "time :minutes and 50% off")
    ]
    src = q(blank_db, "select prosrc from pg_proc where proname = 'describe'")[0][0]
    assert "format('%s has %s%%'" in src and "like '50%'" in src and "$$dollars$$" in src
    assert q(blank_db, "select public.describe(d) from public.docs d") == [
        ("time :minutes and 50% off has 1% and $$dollars$$ ",)
    ]
    # plan shows the same text, unescaped.
    scratch.revision(2, "more", "select '50%' as pct, ':word' as w;\n")
    text = migrations.plan(scratch.project, blank_db)
    assert "select '50%' as pct, ':word' as w;" in text


def test_repeatables_reapply_only_when_changed_and_policies_follow_functions(
    scratch: ScratchProject, blank_db: Target
) -> None:
    scratch.revision(
        1,
        "t",
        "create table public.t (id bigint primary key, owner uuid);\nalter table public.t enable row level security;\n",
    )
    fn = scratch.write(
        "functions/is_owner.sql",
        "create or replace function public.is_owner(o uuid) returns boolean\n"
        "language sql stable as $$ select o = auth.uid() $$;\n",
    )
    scratch.write(
        "policies/t.sql",
        "drop policy if exists t_owner on public.t;\n"
        "create policy t_owner on public.t for select to authenticated\n"
        "using ((select public.is_owner(owner)));\n",
    )
    first = migrations.migrate(scratch.project, blank_db)
    assert first.repeatables == ["functions/is_owner.sql", "policies/t.sql"]
    assert not migrations.migrate(scratch.project, blank_db).changed
    # Dropping the function with CASCADE drops the policy too; the policy file must follow.
    fn.write_text(
        "drop function if exists public.is_owner(uuid) cascade;\n"
        "create or replace function public.is_owner(o uuid) returns boolean\n"
        "language sql stable as $$ select o is not distinct from auth.uid() $$;\n"
    )
    assert migrations.status(scratch.project, blank_db).repeatables[0].state == "changed"
    second = migrations.migrate(scratch.project, blank_db)
    assert second.repeatables == ["functions/is_owner.sql", "policies/t.sql"]
    assert q(blank_db, "select count(*) from pg_policies where policyname = 't_owner'") == [(1,)]


def test_deleted_repeatable_file_whose_objects_exist_is_refused(scratch: ScratchProject, blank_db: Target) -> None:
    fn = scratch.write(
        "functions/gone.sql",
        "create or replace function public.gone() returns int language sql as $$ select 1 $$;\n",
    )
    migrations.migrate(scratch.project, blank_db)
    fn.unlink()
    scratch.revision(1, "unrelated", "create table public.unrelated (id bigint primary key);\n")
    before = snapshot(blank_db)
    with pytest.raises(Kwq8Error) as info:
        migrations.migrate(scratch.project, blank_db)
    assert "functions/gone.sql was deleted" in info.value.message and "public.gone" in info.value.message
    assert snapshot(blank_db) == before
    assert migrations.status(scratch.project, blank_db).repeatables[0].state == "deleted"
    # The reviewable way: a versioned migration drops it; then the deletion goes through.
    scratch.revision(2, "drop_gone", "drop function public.gone();\n")
    result = migrations.migrate(scratch.project, blank_db)
    assert result.removed == ["functions/gone.sql"] and result.applied == ["0001", "0002"]


def test_moved_repeatable_file_hands_its_objects_to_the_new_path(scratch: ScratchProject, blank_db: Target) -> None:
    body = "create or replace function public.moved() returns int language sql as $$ select 7 $$;\n"
    old = scratch.write("functions/old_folder/moved.sql", body)
    migrations.migrate(scratch.project, blank_db)
    old.unlink()
    scratch.write("functions/new_folder/moved.sql", body)
    states = {c.rel: c.state for c in migrations.status(scratch.project, blank_db).repeatables}
    assert states == {"functions/new_folder/moved.sql": "new", "functions/old_folder/moved.sql": "deleted"}
    result = migrations.migrate(scratch.project, blank_db)
    assert result.removed == ["functions/old_folder/moved.sql"]
    assert result.repeatables == ["functions/new_folder/moved.sql"]
    assert q(blank_db, "select public.moved()") == [(7,)]
    paths = q(blank_db, "select path from kwq8_meta.repeatables order by path")
    assert paths == [("functions/new_folder/moved.sql",)]
    assert not migrations.migrate(scratch.project, blank_db).changed


def test_two_concurrent_migrations_apply_each_revision_once(scratch: ScratchProject, blank_db: Target) -> None:
    # pg_sleep keeps the first run inside its transaction while the second one arrives.
    scratch.revision(1, "slow", "select pg_sleep(0.5);\ncreate table public.once (id bigint primary key);\n")
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrations.migrate(scratch.project, blank_db, lock_timeout_s=30))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(len(r.applied) for r in results) == [0, 1]
    assert q(blank_db, "select count(*) from kwq8_meta.migration_log where name = '0001'") == [(1,)]


def test_migration_lock_held_elsewhere_fails_clearly_after_timeout(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "t", "create table public.t (id bigint primary key);\n")
    with connect(blank_db.url, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (migrations.MIGRATION_LOCK_KEY,))
        with pytest.raises(Kwq8Error) as info:
            migrations.migrate(scratch.project, blank_db, lock_timeout_s=0.3)
    assert info.value.exit_code == 3
    assert "another migration is running" in info.value.message
    assert not table_exists(blank_db, "public.t")


def test_no_transaction_revision_runs_concurrent_index_builds(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(
        1,
        "t",
        "create table public.t (id bigint primary key, a int, b int);\n"
        "insert into public.t select g, g, g from generate_series(1, 1000) g;\n",
    )
    scratch.revision(
        2,
        "indexes",
        "-- kwq8: no-transaction\n"
        "create index concurrently if not exists t_a_idx on public.t (a);\n"
        "create index concurrently if not exists t_b_idx on public.t (b);\n",
    )
    scratch.revision(3, "after", "create table public.after_indexes (id bigint primary key);\n")
    assert [r.no_transaction for r in migrations.status(scratch.project, blank_db).pending] == [
        False,
        True,
        False,
    ]
    result = migrations.migrate(scratch.project, blank_db)
    assert result.applied == ["0001", "0002", "0003"]
    rows = q(
        blank_db,
        "select c.relname, i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid "
        "where c.relname in ('t_a_idx', 't_b_idx') order by 1",
    )
    assert rows == [("t_a_idx", True), ("t_b_idx", True)]
    assert table_exists(blank_db, "public.after_indexes")


def test_revision_mixing_transactional_and_no_transaction_files_is_rejected(
    scratch: ScratchProject, blank_db: Target
) -> None:
    scratch.write("sql/0001_a.sql", "create table public.a (id bigint primary key);\n")
    scratch.write(
        "sql/0001_b.sql",
        "-- kwq8: no-transaction\ncreate index concurrently a_idx on public.a (id);\n",
    )
    scratch.revision(1, "mixed", "", files=["0001_a.sql", "0001_b.sql"])
    with pytest.raises(Kwq8Error, match="mixes no-transaction"):
        migrations.migrate(scratch.project, blank_db)


def test_plan_prints_the_sql_and_changes_nothing(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "t", "create table public.planned (id bigint primary key);\n")
    scratch.write("policies/planned.sql", "alter table public.planned enable row level security;\n")
    text = migrations.plan(scratch.project, blank_db)
    assert (
        text.index("begin;")
        < text.index("create table public.planned")
        < text.index("INSERT INTO kwq8_meta.alembic_version")
        < text.index("policies/planned.sql (new)")
        < text.index("commit;")
    )
    assert not table_exists(blank_db, "public.planned")
    assert not migrations.status(scratch.project, blank_db).up_to_date
    migrations.migrate(scratch.project, blank_db)
    assert "nothing to do" in migrations.plan(scratch.project, blank_db)


def test_unknown_revision_in_database_is_a_clear_error(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "t", "create table public.t (id bigint primary key);\n")
    migrations.migrate(scratch.project, blank_db)
    with connect(blank_db.url, autocommit=True) as conn:
        conn.execute("update kwq8_meta.alembic_version set version_num = '9999'")
    before = snapshot(blank_db)
    scratch.revision(2, "u", "create table public.u (id bigint primary key);\n")
    for call in (migrations.migrate, migrations.status):
        with pytest.raises(Kwq8Error, match="revision '9999', which this checkout does not know"):
            call(scratch.project, blank_db)
    assert snapshot(blank_db) == before


def test_downgrade_uses_down_files_and_refuses_without_them(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "a", "create table public.a (id bigint primary key);\n")
    scratch.revision(2, "b", "create table public.b (id bigint primary key);\n", down="drop table public.b;\n")
    scratch.revision(3, "c", "create table public.c (id bigint primary key);\n", down="drop table public.c;\n")
    migrations.migrate(scratch.project, blank_db)
    assert migrations.downgrade(scratch.project, blank_db, "-1") == ["0003"]
    assert not table_exists(blank_db, "public.c") and table_exists(blank_db, "public.b")
    before = snapshot(blank_db)
    with pytest.raises(Kwq8Error, match=r"0001 have no \.down\.sql"):
        migrations.downgrade(scratch.project, blank_db, "base")
    assert snapshot(blank_db) == before
    assert migrations.downgrade(scratch.project, blank_db, "0001") == ["0002"]
    assert migrations.status(scratch.project, blank_db).current == "0001"
    assert [h["kind"] for h in migrations.history(blank_db)][-2:] == ["downgrade", "downgrade"]


def test_failing_down_file_leaves_revision_applied(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "a", "create table public.a (id bigint primary key);\n", down="drop table public.nope;\n")
    migrations.migrate(scratch.project, blank_db)
    with pytest.raises(MigrationFailed, match=r"sql/0001_a.down.sql:1: 42P01"):
        migrations.downgrade(scratch.project, blank_db, "base")
    assert table_exists(blank_db, "public.a")
    assert migrations.status(scratch.project, blank_db).current == "0001"


def test_new_revision_numbers_files_and_chains_down_revision(scratch: ScratchProject) -> None:
    scratch.revision(1, "a", "select 1;\n")
    created = migrations.new_revision(scratch.project, "Add bookings table!", with_down=True)
    names = [p.relative_to(scratch.root).as_posix() for p in created]
    assert names == [
        "migrations/versions/0002_add_bookings_table.py",
        "sql/0002_add_bookings_table.sql",
        "sql/0002_add_bookings_table.down.sql",
    ]
    assert 'down_revision = "0001"' in created[0].read_text()
    # Created as the project's formatter would write it.
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    style = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--config", str(pyproject), str(created[0])],
        capture_output=True,
        text=True,
    )
    assert style.returncode == 0, style.stdout + style.stderr
    arabic = migrations.new_revision(scratch.project, "إضافة الحجوزات")
    assert arabic[1].name == "0003_migration.sql"
    assert migrations.script_directory(scratch.project).get_current_head() == "0003"
    with pytest.raises(Kwq8Error):
        migrations.new_revision(scratch.project, "   ")


def test_migrations_run_without_superuser_rights(scratch: ScratchProject, blank_db: Target) -> None:
    """As on Supabase, `postgres` is not a superuser: a migration needing superuser fails."""
    scratch.revision(1, "su", "alter role postgres superuser;\n")
    with pytest.raises(MigrationFailed, match="42501"):
        migrations.migrate(scratch.project, blank_db)
    scratch.revision(1, "su", "create table public.owned (id bigint primary key);\n")
    migrations.migrate(scratch.project, blank_db)
    assert q(blank_db, "select tableowner from pg_tables where tablename = 'owned'") == [("postgres",)]


def test_invalid_ddl_lock_timeout_is_rejected(scratch: ScratchProject, blank_db: Target) -> None:
    with pytest.raises(Kwq8Error, match="invalid --ddl-lock-timeout"):
        migrations.migrate(scratch.project, blank_db, ddl_lock_timeout="1s'; drop table x; --")


def test_ddl_waits_at_most_the_lock_timeout(scratch: ScratchProject, blank_db: Target) -> None:
    scratch.revision(1, "t", "create table public.busy (id bigint primary key);\n")
    migrations.migrate(scratch.project, blank_db)
    scratch.revision(2, "alter", "alter table public.busy add column note text;\n")
    with connect(blank_db.url) as reader:
        reader.execute("select * from public.busy")  # holds ACCESS SHARE until rollback
        with pytest.raises(MigrationFailed, match="55P03"):
            migrations.migrate(scratch.project, blank_db, ddl_lock_timeout="200ms")
        reader.rollback()
    assert migrations.migrate(scratch.project, blank_db).applied == ["0002"]


def test_project_migrations_match_the_sql_files(kwq8_project: Any) -> None:
    """Every revision names SQL files that exist, and every up file in sql/ belongs to a revision."""
    scripts = migrations.script_directory(kwq8_project)
    named = set()
    for script in scripts.walk_revisions():
        info = migrations.revision_info(kwq8_project, script)
        for name in info.files:
            assert (kwq8_project.sql_dir / name).exists(), name
            named.add(name)
    on_disk = {p.name for p in kwq8_project.sql_dir.glob("*.sql") if not p.name.endswith(".down.sql")}
    assert on_disk == named
