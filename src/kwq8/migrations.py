"""Schema migrations: alembic revisions that apply versioned SQL from sql/, then repeatable
function and policy files, all in one transaction guarded by an advisory lock.

Versioned files (sql/NNNN_name.sql) run once each, in revision order; a revision is reversible
when every file has a sibling NNNN_name.down.sql. Repeatable files (functions/**/*.sql, then
policies/**/*.sql) are re-applied whenever their sha256 changes; when any function file is
re-applied every policy file is re-applied too, because dropping a function with CASCADE
silently drops the policies that use it.

A file whose first lines hold `-- kwq8: no-transaction` runs statement by statement outside a
transaction (for CREATE INDEX CONCURRENTLY); it ends the atomic unit before it and starts a new one.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.pool import NullPool

from kwq8 import bodycheck
from kwq8.config import Project
from kwq8.db import Target, connect, connection
from kwq8.errors import Kwq8Error
from kwq8.sqlfile import is_no_transaction, line_of, read_sql, sha256_text, split_statements

META_SCHEMA = "kwq8_meta"
# "kwq8" in ASCII: the bigint key of the session advisory lock every migrate run takes.
MIGRATION_LOCK_KEY = 0x6B777138
Echo = Callable[[str], None]

_META_DDL = f"""
create schema if not exists {META_SCHEMA};
revoke all on schema {META_SCHEMA} from public;
create table if not exists {META_SCHEMA}.repeatables (
    path text primary key,
    kind text not null check (kind in ('function', 'policy')),
    sha256 text not null,
    objects jsonb not null default '[]',
    applied_at timestamptz not null default now()
);
create table if not exists {META_SCHEMA}.migration_log (
    id bigint generated always as identity primary key,
    kind text not null check (kind in ('versioned', 'repeatable', 'downgrade', 'no-transaction')),
    name text not null,
    file text not null,
    sha256 text not null,
    applied_at timestamptz not null default clock_timestamp(),
    applied_by text not null default current_user
);
"""


class MigrationFailed(Kwq8Error):
    """A SQL file failed: names the file, the line and the Postgres error."""


def _noop(_: str) -> None:
    return None


# --------------------------------------------------------------------------- files on disk


@dataclass(frozen=True)
class RepeatableFile:
    rel: str
    kind: str
    text: str = field(repr=False)

    @property
    def sha256(self) -> str:
        return sha256_text(self.text)

    @property
    def objects(self) -> list[dict[str, str]]:
        return declared_objects(self.text)


_FUNCTION_DECL = re.compile(
    r"create\s+(?:or\s+replace\s+)?(?:function|procedure)\s+((?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))?)\s*\(",
    re.IGNORECASE,
)
_POLICY_DECL = re.compile(
    r"create\s+policy\s+(\"[^\"]+\"|\w+)\s+on\s+((?:\"[^\"]+\"|\w+)(?:\.(?:\"[^\"]+\"|\w+))?)",
    re.IGNORECASE,
)


def _split_name(qualified: str) -> tuple[str, str]:
    parts = [p.strip('"') for p in re.findall(r"\"[^\"]+\"|\w+", qualified)]
    return (parts[0], parts[1]) if len(parts) == 2 else ("public", parts[0])


def declared_objects(text: str) -> list[dict[str, str]]:
    """Functions and policies a repeatable file creates, so a deleted file can be checked."""
    objects: list[dict[str, str]] = []
    for match in _FUNCTION_DECL.finditer(text):
        schema, name = _split_name(match.group(1))
        objects.append({"type": "function", "schema": schema, "name": name})
    for match in _POLICY_DECL.finditer(text):
        schema, table = _split_name(match.group(2))
        objects.append({"type": "policy", "schema": schema, "table": table, "name": match.group(1).strip('"')})
    unique = {json.dumps(o, sort_keys=True): o for o in objects}
    return list(unique.values())


def repeatable_files(project: Project) -> list[RepeatableFile]:
    files: list[RepeatableFile] = []
    for kind, folder in (("function", project.functions_dir), ("policy", project.policies_dir)):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.sql")):
            rel = path.relative_to(project.root).as_posix()
            files.append(RepeatableFile(rel=rel, kind=kind, text=read_sql(path)))
    return files


# --------------------------------------------------------------------------- alembic glue


def alembic_config(
    project: Project, connection: sa.Connection | None = None, output: io.StringIO | None = None
) -> Config:
    cfg = Config(output_buffer=output) if output is not None else Config()
    cfg.set_main_option("script_location", str(project.migrations_dir))
    cfg.attributes["connection"] = connection
    cfg.attributes["kwq8.project"] = project
    return cfg


def script_directory(project: Project) -> ScriptDirectory:
    if not (project.migrations_dir / "env.py").exists():
        raise Kwq8Error(f"{project.migrations_dir}/env.py is missing; this is not a kwq8 project")
    scripts = ScriptDirectory.from_config(alembic_config(project))
    heads = scripts.get_heads()
    if len(heads) > 1:
        raise Kwq8Error(
            f"migration history has several heads ({', '.join(sorted(heads))})",
            hint="two branches each added a revision; renumber one so its down_revision is the other",
        )
    return scripts


def sqlalchemy_url(url: str) -> sa.URL:
    parsed = sa.make_url(url)
    return parsed.set(drivername="postgresql+psycopg")


def run_alembic_env(context: Any) -> None:
    """Body of migrations/env.py: online runs reuse the caller's connection and transaction."""
    cfg = context.config
    options: dict[str, Any] = {"version_table_schema": META_SCHEMA, "transactional_ddl": True}
    if context.is_offline_mode():
        context.configure(
            url="postgresql+psycopg://",
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
            output_buffer=cfg.output_buffer,
            **{**options, "transactional_ddl": False},
        )
        context.run_migrations()
        return
    connection = cfg.attributes.get("connection")
    if connection is None:
        raise Kwq8Error("run migrations through `kwq8 db migrate`, not the alembic command")
    context.configure(connection=connection, **options)
    with context.begin_transaction():
        context.run_migrations()


def _current_project() -> Project:
    from alembic import context

    project = context.config.attributes.get("kwq8.project")
    if project is None:
        raise Kwq8Error("run migrations through `kwq8 db migrate`, not the alembic command")
    return project  # type: ignore[no-any-return]


def run_sql(files: list[str]) -> None:
    """Apply a revision's SQL files (called from a revision's upgrade())."""
    _run_files(files, down=False)


def run_sql_down(files: list[str]) -> None:
    """Apply the .down.sql sibling of each file, in reverse (called from downgrade())."""
    _run_files(list(reversed(files)), down=True)


def down_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".sql") + ".down.sql")


def _run_files(files: list[str], *, down: bool) -> None:
    from alembic import context, op

    project = _current_project()
    for name in files:
        path = project.sql_dir / name
        if down:
            path = down_path(path)
            if not path.exists():
                raise Kwq8Error(f"{path.relative_to(project.root)} is missing: this revision cannot be undone")
        if not path.exists():
            raise Kwq8Error(f"{path.relative_to(project.root)} is named by a revision but does not exist")
        text = read_sql(path)
        rel = path.relative_to(project.root).as_posix()
        revision = name.split("_", 1)[0]
        if context.is_offline_mode():
            op.get_context().impl.static_output(f"-- {rel}\n{text.rstrip()}\n")
            continue
        raw = op.get_bind().connection.driver_connection
        execute_file(raw, text, rel)  # statement by statement; in autocommit for no-transaction files
        kind = "no-transaction" if is_no_transaction(text) else "downgrade" if down else "versioned"
        raw.execute(
            f"insert into {META_SCHEMA}.migration_log (kind, name, file, sha256) values (%s, %s, %s, %s)",
            (kind, revision, rel, sha256_text(text)),
        )


# --------------------------------------------------------------------------- executing SQL


def _failure(exc: psycopg.Error, text: str, rel: str, offset_line: int = 1) -> MigrationFailed:
    diag = exc.diag
    position = int(diag.statement_position) if diag.statement_position else None
    line = line_of(text, position)
    where = f"{rel}:{(line or 1) + offset_line - 1}"
    message = diag.message_primary or str(exc).strip()
    hint_parts = [
        p
        for p in (
            diag.message_detail,
            diag.message_hint,
            diag.context and f"context: {diag.context}",
        )
        if p
    ]
    return MigrationFailed(
        f"{where}: {diag.sqlstate or 'ERROR'}: {message}",
        hint="\n".join(hint_parts) if hint_parts else None,
    )


def execute_file(conn: psycopg.Connection[Any], text: str, rel: str) -> None:
    """Run a file statement by statement in the current transaction.

    Each statement goes over the simple-query protocol with no parameters, so `%`, `:name` and
    dollar-quoted bodies reach Postgres exactly as written, and a failure can name its line
    even when Postgres reports no position (DROP of a missing table, say).
    """
    for line, statement in split_statements(text):
        try:
            with conn.cursor() as cur:
                cur.execute(statement.encode())
        except psycopg.Error as exc:
            raise _failure(exc, statement, rel, offset_line=line) from exc


# --------------------------------------------------------------------------- reading state


@dataclass
class RevisionInfo:
    revision: str
    message: str
    files: list[str]
    no_transaction: bool
    reversible: bool


@dataclass
class RepeatableChange:
    rel: str
    kind: str
    state: str  # new | changed | deleted


@dataclass
class Drift:
    """An applied versioned file whose text on disk is no longer what the database ran."""

    revision: str
    file: str
    applied_sha256: str | None  # None: applied before checksums were recorded, or the file is gone
    file_sha256: str | None

    def describe(self) -> str:
        if self.file_sha256 is None:
            return f"{self.file} (revision {self.revision}) was applied but is missing from the checkout"
        if self.applied_sha256 is None:
            return f"{self.file} (revision {self.revision}) has no recorded checksum"
        return f"{self.file} (revision {self.revision}) was edited after it was applied"


@dataclass
class MigrationStatus:
    current: str | None
    head: str | None
    pending: list[RevisionInfo]
    repeatables: list[RepeatableChange]
    drift: list[Drift] = field(default_factory=list)

    @property
    def up_to_date(self) -> bool:
        return not self.pending and not self.repeatables and not self.drift

    def as_dict(self) -> dict[str, Any]:
        return {
            "current": self.current,
            "head": self.head,
            "pending": [r.__dict__ for r in self.pending],
            "repeatables": [r.__dict__ for r in self.repeatables],
            "drift": [d.__dict__ for d in self.drift],
            "up_to_date": self.up_to_date,
        }


def revision_info(project: Project, script: Script) -> RevisionInfo:
    files = list(getattr(script.module, "sql_files", []))
    texts = []
    for name in files:
        path = project.sql_dir / name
        texts.append(read_sql(path) if path.exists() else "")
    flags = {is_no_transaction(t) for t in texts}
    if len(flags) > 1:
        raise Kwq8Error(
            f"revision {script.revision} mixes no-transaction and transactional files",
            hint="put statements that cannot run in a transaction in a revision of their own",
        )
    return RevisionInfo(
        revision=script.revision,
        message=(script.doc or "").strip(),
        files=files,
        no_transaction=flags == {True},
        reversible=all(down_path(project.sql_dir / n).exists() for n in files),
    )


def _current_revision(conn: sa.Connection) -> str | None:
    ctx = MigrationContext.configure(conn, opts={"version_table_schema": META_SCHEMA})
    heads = ctx.get_current_heads()
    return heads[0] if heads else None


def _pending(project: Project, scripts: ScriptDirectory, current: str | None) -> list[RevisionInfo]:
    if current is not None:
        try:
            scripts.get_revision(current)
        except CommandError as exc:
            raise Kwq8Error(
                f"the database is at revision {current!r}, which this checkout does not know",
                hint="update your checkout to the code that migrated this database; nothing was changed",
            ) from exc
    head = scripts.get_current_head()
    if head is None or head == current:
        return []
    revs = list(scripts.iterate_revisions(head, current or "base"))
    return [revision_info(project, s) for s in reversed(revs)]


def _recorded_repeatables(
    raw: psycopg.Connection[Any],
) -> dict[str, tuple[str, list[dict[str, str]]]]:
    exists = raw.execute("select to_regclass(%s) is not null", (f"{META_SCHEMA}.repeatables",)).fetchone()
    if not exists or not exists[0]:
        return {}
    rows = raw.execute(f"select path, sha256, objects from {META_SCHEMA}.repeatables").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _repeatable_changes(
    project: Project,
    recorded: dict[str, tuple[str, list[dict[str, str]]]],
    reapply_all: bool = False,
) -> tuple[list[RepeatableFile], list[str]]:
    files = repeatable_files(project)
    on_disk = {f.rel for f in files}
    changed = [f for f in files if reapply_all or recorded.get(f.rel, ("", []))[0] != f.sha256]
    if any(f.kind == "function" for f in changed):
        changed_rels = {f.rel for f in changed}
        changed += [f for f in files if f.kind == "policy" and f.rel not in changed_rels]
        order = {f.rel: i for i, f in enumerate(files)}
        changed.sort(key=lambda f: order[f.rel])
    deleted = sorted(set(recorded) - on_disk)
    return changed, deleted


def _drift(
    project: Project, scripts: ScriptDirectory, raw: psycopg.Connection[Any], current: str | None
) -> list[Drift]:
    """Applied versioned files whose sha256 differs from the one recorded when they ran (the
    latest up-run of each file in the migration log), as `supabase migration list` flags them."""
    if current is None:
        return []
    exists = raw.execute("select to_regclass(%s) is not null", (f"{META_SCHEMA}.migration_log",)).fetchone()
    recorded: dict[str, str] = {}
    if exists and exists[0]:
        rows = raw.execute(
            f"select distinct on (file) file, sha256 from {META_SCHEMA}.migration_log "
            "where kind in ('versioned', 'no-transaction') order by file, id desc"
        ).fetchall()
        recorded = {r[0]: r[1] for r in rows}
    drift: list[Drift] = []
    for script in reversed(list(scripts.iterate_revisions(current, "base"))):
        for name in getattr(script.module, "sql_files", []):
            path = project.sql_dir / name
            rel = path.relative_to(project.root).as_posix()
            on_disk = sha256_text(read_sql(path)) if path.exists() else None
            applied = recorded.get(rel)
            if on_disk != applied:
                drift.append(Drift(script.revision, rel, applied, on_disk))
    return drift


def _engine(target: Target) -> sa.Engine:
    return sa.create_engine(sqlalchemy_url(target.url), poolclass=NullPool)


def status(project: Project, target: Target) -> MigrationStatus:
    scripts = script_directory(project)
    engine = _engine(target)
    with _sa_connect(engine, target) as conn:
        current = _current_revision(conn)
        pending = _pending(project, scripts, current)
        raw = conn.connection.driver_connection
        recorded = _recorded_repeatables(raw)
        drift = _drift(project, scripts, raw, current)
        conn.rollback()
    changed, deleted = _repeatable_changes(project, recorded)
    changes = [RepeatableChange(f.rel, f.kind, "changed" if f.rel in recorded else "new") for f in changed]
    changes += [
        RepeatableChange(rel, "function" if rel.startswith("functions/") else "policy", "deleted") for rel in deleted
    ]
    return MigrationStatus(current, scripts.get_current_head(), pending, changes, drift)


@contextlib.contextmanager
def _sa_connect(engine: sa.Engine, target: Target) -> Iterator[sa.Connection]:
    try:
        conn = engine.connect()
    except sa.exc.OperationalError:
        connect(target.url).close()  # raises the toolkit's one-line error
        raise
    try:
        yield conn
    finally:
        conn.close()


# --------------------------------------------------------------------------- the migration lock


@contextlib.contextmanager
def migration_lock(target: Target, timeout_s: float) -> Iterator[None]:
    """A session advisory lock on its own connection: concurrent runs wait, then see the work done."""
    conn = connect(target.url, autocommit=True, application_name="kwq8 migrate")
    try:
        conn.execute(f"set lock_timeout = '{int(timeout_s * 1000)}ms'")
        try:
            conn.execute("select pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        except psycopg.errors.LockNotAvailable as exc:
            holder = conn.execute(
                "select a.pid, a.backend_start, a.client_addr from pg_locks l "
                "join pg_stat_activity a on a.pid = l.pid "
                "where l.locktype = 'advisory' and l.granted and l.objid = %s and l.classid = 0",
                (MIGRATION_LOCK_KEY,),
            ).fetchone()
            who = f" (backend pid {holder[0]}, connected {holder[1]:%Y-%m-%d %H:%M:%S})" if holder else ""
            raise Kwq8Error(
                f"another migration is running on {target.describe()}{who}; waited {timeout_s:.0f}s",
                hint="wait for it to finish, or raise --lock-timeout",
                exit_code=3,
            ) from exc
        yield
    finally:
        conn.close()


# --------------------------------------------------------------------------- migrate


@dataclass
class MigrateResult:
    applied: list[str] = field(default_factory=list)
    repeatables: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied or self.repeatables or self.removed)


def _object_key(obj: dict[str, str]) -> str:
    return json.dumps(obj, sort_keys=True)


def _object_exists(raw: psycopg.Connection[Any], obj: dict[str, str]) -> bool:
    if obj["type"] == "function":
        row = raw.execute(
            "select exists (select from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = %s and p.proname = %s)",
            (obj["schema"], obj["name"]),
        ).fetchone()
    else:
        row = raw.execute(
            "select exists (select from pg_policies where schemaname = %s and tablename = %s and policyname = %s)",
            (obj["schema"], obj["table"], obj["name"]),
        ).fetchone()
    return bool(row and row[0])


def _describe(obj: dict[str, str]) -> str:
    if obj["type"] == "function":
        return f"function {obj['schema']}.{obj['name']}"
    return f"policy {obj['name']} on {obj['schema']}.{obj['table']}"


def apply_repeatables(
    project: Project,
    raw: psycopg.Connection[Any],
    *,
    reapply_all: bool,
    echo: Echo,
    result: MigrateResult,
) -> None:
    recorded = _recorded_repeatables(raw)
    changed, deleted = _repeatable_changes(project, recorded, reapply_all)
    # A file that moved (or whose objects another file now declares) hands its objects over:
    # only objects no file on disk declares any more must be dropped by a versioned migration.
    declared = {_object_key(o) for f in repeatable_files(project) for o in f.objects}
    for rel in deleted:
        alive = [o for o in recorded[rel][1] if _object_key(o) not in declared and _object_exists(raw, o)]
        if alive:
            raise Kwq8Error(
                f"{rel} was deleted, but what it created still exists: " + ", ".join(_describe(o) for o in alive),
                hint="drop those objects in a versioned migration (`kwq8 db new`), or restore the file; "
                "nothing was changed",
            )
        raw.execute(f"delete from {META_SCHEMA}.repeatables where path = %s", (rel,))
        result.removed.append(rel)
    for f in changed:
        echo(f"applying {f.rel}")
        # Function files may call each other in any order (as pg_dump output does); policies
        # are checked in full because they only run after every function exists.
        raw.execute(f"set local check_function_bodies = {'off' if f.kind == 'function' else 'on'}")
        execute_file(raw, f.text, f.rel)
        raw.execute(
            f"insert into {META_SCHEMA}.repeatables (path, kind, sha256, objects, applied_at) "
            "values (%s, %s, %s, %s, now()) on conflict (path) do update set "
            "sha256 = excluded.sha256, objects = excluded.objects, applied_at = excluded.applied_at",
            (f.rel, f.kind, f.sha256, json.dumps(f.objects)),
        )
        raw.execute(
            f"insert into {META_SCHEMA}.migration_log (kind, name, file, sha256) values ('repeatable', %s, %s, %s)",
            (f.kind, f.rel, f.sha256),
        )
        result.repeatables.append(f.rel)


def migrate(
    project: Project,
    target: Target,
    *,
    lock_timeout_s: float = 60.0,
    ddl_lock_timeout: str = "30s",
    reapply_all: bool = False,
    check_bodies: bool = True,
    require_supabase: bool = False,
    echo: Echo = _noop,
) -> MigrateResult:
    """Apply every pending revision and changed repeatable file; all or nothing (see module doc).
    With `check_bodies`, plpgsql_check runs on every function the transaction created or replaced
    and an error in a body rolls it back. With `require_supabase`, a database without Supabase's
    roles and auth schema (which the migrations assume) is refused before anything runs."""
    if require_supabase:
        from kwq8 import shim

        with connection(target.url) as conn:
            shim.require_supabase_like(conn, target.describe())
    if not re.fullmatch(r"\d+(ms|s|min)?", ddl_lock_timeout):
        raise Kwq8Error(f"invalid --ddl-lock-timeout {ddl_lock_timeout!r}", hint="use e.g. 30s, 500ms or 2min")
    scripts = script_directory(project)
    result = MigrateResult()
    engine = _engine(target)
    lend = bodycheck.lent(target) if check_bodies else contextlib.nullcontext()
    with migration_lock(target, lock_timeout_s), lend, _sa_connect(engine, target) as conn:
        raw = conn.connection.driver_connection
        current = _current_revision(conn)
        pending = _pending(project, scripts, current)
        for d in _drift(project, scripts, raw, current):
            echo(f"warning: {d.describe()} (`kwq8 db status` exits 1 until it is restored)")
        conn.rollback()
        segments: list[tuple[bool, list[RevisionInfo]]] = []
        for info in pending:
            if info.no_transaction:
                segments.append((False, [info]))
            elif segments and segments[-1][0]:
                segments[-1][1].append(info)
            else:
                segments.append((True, [info]))
        if not segments or not segments[-1][0]:
            segments.append((True, []))
        cfg = alembic_config(project, conn)
        for index, (transactional, revisions) in enumerate(segments):
            last = index == len(segments) - 1
            if transactional:
                with conn.begin():
                    raw.execute(f"set local lock_timeout = '{ddl_lock_timeout}'")
                    raw.execute(_META_DDL)
                    before = bodycheck.snapshot(raw) if check_bodies else None
                    if revisions:
                        for info in revisions:
                            echo(f"applying revision {info.revision} {info.message}")
                        command.upgrade(cfg, revisions[-1].revision)
                        result.applied += [r.revision for r in revisions]
                    if last:
                        apply_repeatables(project, raw, reapply_all=reapply_all, echo=echo, result=result)
                    if before is not None:
                        _check_new_bodies(project, raw, before, echo)
            else:
                info = revisions[0]
                echo(f"applying revision {info.revision} {info.message} (outside a transaction)")
                with conn.begin():
                    raw.execute(_META_DDL)
                auto = conn.execution_options(isolation_level="AUTOCOMMIT")
                command.upgrade(alembic_config(project, auto), info.revision)
                auto.execution_options(isolation_level="READ COMMITTED")
                result.applied.append(info.revision)
    return result


def _check_new_bodies(project: Project, raw: psycopg.Connection[Any], before: set[tuple[int, str]], echo: Echo) -> None:
    changed = {oid for oid, _ in bodycheck.snapshot(raw) - before}
    if not changed:
        return
    schema = bodycheck.installed_schema(raw)
    borrowed = schema is None
    if borrowed:
        schema = bodycheck.borrow(raw)
    if schema is None:
        echo("plpgsql_check is not available to this role here: function bodies were not checked")
        return
    echo(f"plpgsql_check: {len(changed)} created or replaced function(s)")
    issues = bodycheck.check(raw, schema, bodycheck.function_sources(project), only=changed, errors_only=True)
    if borrowed:
        bodycheck.give_back(raw)
    if issues:
        first, rest = issues[0], issues[1:]
        raise MigrationFailed(
            f"{first.file}:{first.line}: {first.sqlstate}: {first.message} (in {first.function}, plpgsql_check)",
            hint="\n".join(
                [f"{i.file}:{i.line}: {i.sqlstate}: {i.message} (in {i.function})" for i in rest]
                + ["nothing was applied: the migration was rolled back"]
            ),
        )


def plan(project: Project, target: Target) -> str:
    """The SQL `migrate` would run now, without running it."""
    st = status(project, target)
    out = io.StringIO()
    out.write(f"-- kwq8 migration plan for {target.describe()}\n")
    out.write(f"-- current revision: {st.current or '(none)'}; head: {st.head or '(none)'}\n")
    for d in st.drift:
        out.write(f"-- DRIFT: {d.describe()}; migrate does not run it again\n")
    if not st.pending and not st.repeatables:
        out.write("-- nothing to do\n")
        return out.getvalue()
    out.write("begin;\n")
    out.write(_META_DDL.strip() + "\n")
    if st.pending:
        if any(r.no_transaction for r in st.pending):
            out.write("-- note: no-transaction revisions commit what precedes them and run outside a transaction\n")
        cfg = alembic_config(project, output=out)
        start = f"{st.current}:" if st.current else ""
        command.upgrade(cfg, f"{start}{st.head}", sql=True)
    files = {f.rel: f for f in repeatable_files(project)}
    for change in st.repeatables:
        if change.state == "deleted":
            out.write(f"-- {change.rel} was deleted: its record is removed once its objects are gone\n")
            continue
        out.write(f"-- {change.rel} ({change.state})\n{files[change.rel].text.rstrip()}\n")
    out.write("commit;\n")
    return out.getvalue()


def history(target: Target) -> list[dict[str, Any]]:
    with connect(target.url) as raw:
        exists = raw.execute("select to_regclass(%s) is not null", (f"{META_SCHEMA}.migration_log",)).fetchone()
        if not exists or not exists[0]:
            return []
        rows = raw.execute(
            f"select id, kind, name, file, sha256, applied_at, applied_by from {META_SCHEMA}.migration_log order by id"
        ).fetchall()
    keys = ("id", "kind", "name", "file", "sha256", "applied_at", "applied_by")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def downgrade(
    project: Project, target: Target, to: str, *, lock_timeout_s: float = 60.0, echo: Echo = _noop
) -> list[str]:
    """Undo revisions down to `to` (a revision id, `base`, or -N) if every one has down files."""
    scripts = script_directory(project)
    engine = _engine(target)
    with migration_lock(target, lock_timeout_s), _sa_connect(engine, target) as conn:
        current = _current_revision(conn)
        conn.rollback()
        if current is None:
            raise Kwq8Error("nothing to downgrade: the database has no applied revision")
        _pending(project, scripts, current)  # validates that current is known
        destination = _resolve_downgrade_target(scripts, current, to)
        undo = [s for s in scripts.iterate_revisions(current, destination or "base") if s.revision != destination]
        if not undo:
            raise Kwq8Error(f"the database is already at {to}")
        infos = [revision_info(project, s) for s in undo]
        missing = [i.revision for i in infos if not i.reversible]
        if missing:
            raise Kwq8Error(
                f"revision(s) {', '.join(missing)} have no .down.sql file, so they cannot be undone",
                hint="write the down file(s) next to the revision's SQL, or restore from a backup; nothing was changed",
            )
        if any(i.no_transaction for i in infos):
            raise Kwq8Error("downgrading across a no-transaction revision is not supported; undo it by hand")
        with conn.begin():
            for info in infos:
                echo(f"undoing revision {info.revision} {info.message}")
            command.downgrade(alembic_config(project, conn), destination or "base")
            # Down files drop tables and with them their policies and triggers: forget every
            # repeatable file so the next migrate applies them all again.
            conn.connection.driver_connection.execute(f"delete from {META_SCHEMA}.repeatables")
    return [i.revision for i in infos]


def _resolve_downgrade_target(scripts: ScriptDirectory, current: str, to: str) -> str | None:
    """The revision to stop at (None: base), from the forms alembic users type: `base`, `-N`,
    a revision id or its file stem (`0007_tenancy`), `REV-N` and `head-N`."""
    spec = to.strip()
    if spec == "base":
        return None
    anchor, steps = current, 0
    match = re.fullmatch(r"(.*?)-(\d+)", spec)
    if match:
        anchor = match.group(1) or current
        steps = int(match.group(2))
    else:
        anchor = spec
    if anchor == "head":
        anchor = scripts.get_current_head() or current
    elif anchor == "current":
        anchor = current
    else:
        anchor = _known_revision(scripts, anchor)
    revs = list(scripts.iterate_revisions(anchor, "base"))
    if steps > len(revs):
        raise Kwq8Error(f"cannot go back {steps} revision(s) from {anchor}; only {len(revs)} exist below it")
    destination = revs[steps].revision if steps < len(revs) else None
    applied = {s.revision for s in scripts.iterate_revisions(current, "base")}
    if destination is not None and destination not in applied:
        raise Kwq8Error(
            f"{to} is revision {destination}, which is not applied (the database is at {current})",
            hint="`kwq8 db migrate` goes forward; downgrade goes back to an applied revision",
        )
    return destination


def _known_revision(scripts: ScriptDirectory, spec: str) -> str:
    # A file stem (0007_tenancy, as `ls migrations/versions` shows it) names its revision too.
    candidates = [spec, spec.removesuffix(".py").split("_", 1)[0]]
    for candidate in dict.fromkeys(candidates):
        try:
            script = scripts.get_revision(candidate)
        except CommandError:
            continue
        if script is not None:
            return script.revision
    raise Kwq8Error(
        f"unknown revision {spec!r}",
        hint="use a revision id (`kwq8 db history`), -N to go back N steps, or base",
    )


# --------------------------------------------------------------------------- new revision

_REVISION_TEMPLATE = '''"""{message}"""

from kwq8.migrations import run_sql, run_sql_down

revision = "{revision}"
down_revision = {down_revision}
# Applied in order from sql/; each may have a .down.sql sibling that undoes it.
sql_files = ["{sql_file}"]


def upgrade() -> None:
    run_sql(sql_files)


def downgrade() -> None:
    run_sql_down(sql_files)
'''


def slugify(message: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", message).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")[:40].rstrip("_")
    return slug or "migration"


def new_revision(project: Project, message: str, *, with_down: bool = False) -> list[Path]:
    if not message.strip():
        raise Kwq8Error('a revision needs a message, e.g. kwq8 db new "add bookings"')
    scripts = script_directory(project)
    head = scripts.get_current_head()
    numbers = [int(s.revision) for s in scripts.walk_revisions() if s.revision.isdigit()]
    revision = f"{(max(numbers) + 1) if numbers else 1:04d}"
    slug = slugify(message)
    sql_file = f"{revision}_{slug}.sql"
    version_path = project.migrations_dir / "versions" / f"{revision}_{slug}.py"
    sql_path = project.sql_dir / sql_file
    for path in (version_path, sql_path):
        if path.exists():
            raise Kwq8Error(f"{path} already exists")
    version_path.parent.mkdir(parents=True, exist_ok=True)
    sql_path.parent.mkdir(parents=True, exist_ok=True)
    doc = message.strip().replace('"""', "'''")
    # Double quotes, as ruff formats the project's Python: a new revision passes the style check as created.
    down_revision = f'"{head}"' if head else "None"
    version_path.write_text(
        _REVISION_TEMPLATE.format(message=doc, revision=revision, down_revision=down_revision, sql_file=sql_file)
    )
    sql_path.write_text(f"-- {revision}: {message.strip()}\n")
    created = [version_path, sql_path]
    if with_down:
        down = down_path(sql_path)
        down.write_text(f"-- undoes {sql_file}\n")
        created.append(down)
    return created
