"""The local stack: a real PostgreSQL server plus the Supabase shim, migrated and seeded."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from kwq8 import migrations, shim
from kwq8.config import Project
from kwq8.db import Target, connection, make_url
from kwq8.errors import Kwq8Error
from kwq8.keys import local_api_keys
from kwq8.migrations import execute_file
from kwq8.pgserver import (
    BOOTSTRAP_SUPERUSER,
    LOCAL_PASSWORD,
    PortOwner,
    PostgresServer,
    checkout_key,
    orphan_of,
    state_root,
    stop_orphan,
)
from kwq8.sqlfile import read_sql

Echo = Callable[[str], None]
MAIN_DB = "postgres"


def _noop(_: str) -> None:
    return None


@dataclass
class StartReport:
    already_running: bool
    initialized: bool
    seconds: float
    migrated: migrations.MigrateResult | None = None
    port_ignored: int | None = None  # --port asked for while the server already runs elsewhere


class Stack:
    def __init__(
        self,
        project: Project,
        *,
        state_dir: Path | None = None,
        port: int | None = None,
        fast: bool = False,
    ) -> None:
        self.project = project
        self.state_dir = state_dir or state_root() / checkout_key(project.root, project.project_id)
        self.server = PostgresServer(
            self.state_dir, major=project.major_version, fast=fast, bindir_candidates=project.pg_bindir_candidates
        )
        self._port = port

    # ------------------------------------------------------------------ addresses

    @property
    def port(self) -> int:
        return self.server.running_port() or self._port or self.project.db_port

    def url(self, role: str = "postgres", dbname: str = MAIN_DB) -> str:
        return make_url(role, LOCAL_PASSWORD, "127.0.0.1", self.port, dbname)

    def admin_url(self, dbname: str = MAIN_DB) -> str:
        return self.url(BOOTSTRAP_SUPERUSER, dbname)

    def target(self, dbname: str = MAIN_DB) -> Target:
        return Target(self.url("postgres", dbname), local_stack=True, admin_url=self.admin_url(dbname))

    @property
    def running(self) -> bool:
        return self.server.running_port() is not None

    @property
    def _ready_marker(self) -> Path:
        return self.state_dir / "ready.json"

    def keys(self) -> dict[str, str]:
        return local_api_keys(self.project.auth.jwt_secret)

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, migrate: bool = True, seed: bool = True, echo: Echo = _noop) -> StartReport:
        """Start (initdb on first use), then bring the database to head. A stack that already runs
        is migrated too; with `migrate=False` pending revisions make it refuse, listing them."""
        began = time.monotonic()
        running_port = self.server.running_port()
        if running_port is not None and self._ready_marker.exists():
            report = StartReport(already_running=True, initialized=False, seconds=0.0)
            if self._port is not None and self._port != running_port:
                report.port_ignored = self._port
            report.migrated = self._bring_to_head(migrate=migrate, echo=echo)
            report.seconds = time.monotonic() - began
            return report
        initialized = False
        if not self.server.initialized:
            echo(f"initialising a PostgreSQL {self.project.major_version} cluster in {self.server.data_dir}")
            self.server.init()
            initialized = True
        if not self.running:
            echo(f"starting PostgreSQL on 127.0.0.1:{self._port or self.project.db_port}")
            self.server.start(self._port or self.project.db_port)
        self.server.wait_ready(self.port)
        report = StartReport(already_running=False, initialized=initialized, seconds=0.0)
        if not self._ready_marker.exists():
            report.migrated = self.prepare_database(MAIN_DB, migrate=migrate, seed=seed, echo=echo)
            self._ready_marker.write_text(json.dumps({"prepared_at": time.time()}))
        else:
            report.migrated = self._bring_to_head(migrate=migrate, echo=echo)
        report.seconds = time.monotonic() - began
        return report

    def _bring_to_head(self, *, migrate: bool, echo: Echo) -> migrations.MigrateResult | None:
        if migrate:
            result = migrations.migrate(self.project, self.target(), echo=echo)
            if result.changed:
                echo(f"migrated {len(result.applied)} revision(s), {len(result.repeatables)} repeatable file(s)")
            return result
        st = migrations.status(self.project, self.target())
        if not st.up_to_date:
            todo = [f"{r.revision} {r.message}" for r in st.pending] + [f"{c.state} {c.rel}" for c in st.repeatables]
            raise Kwq8Error(
                "the local stack runs but is not at head: " + "; ".join(todo),
                hint="run `kwq8 db migrate` (or `kwq8 stack start` without --no-migrate)",
            )
        return None

    def orphan(self) -> PortOwner | None:
        """A postgres started from a state directory that has since been deleted, on our port."""
        if self.running:
            return None
        return orphan_of(self.server.data_dir)

    def prepare_database(
        self,
        dbname: str,
        *,
        migrate: bool = True,
        seed: bool = True,
        test_extensions: bool = False,
        echo: Echo = _noop,
    ) -> migrations.MigrateResult | None:
        echo(f"installing the Supabase shim in {dbname}")
        self.install_shim(dbname)
        if test_extensions:
            self.install_test_extensions(dbname)
        result = None
        if migrate:
            echo(f"applying migrations to {dbname}")
            result = migrations.migrate(self.project, self.target(dbname), echo=echo)
        if seed:
            self.seed(dbname, echo=echo)
        return result

    def install_shim(self, dbname: str) -> None:
        with connection(self.admin_url(dbname)) as conn:
            shim.install(conn)

    def install_test_extensions(self, dbname: str) -> None:
        """pgTAP and plpgsql_check, where installed: for test databases, never the application's."""
        with connection(self.admin_url(dbname), autocommit=True) as conn:
            for name in ("plpgsql_check", "pgtap"):
                row = conn.execute("select count(*) from pg_available_extensions where name = %s", (name,)).fetchone()
                if row and row[0]:
                    conn.execute(
                        sql.SQL("create extension if not exists {} with schema extensions").format(sql.Identifier(name))
                    )

    def seed(self, dbname: str = MAIN_DB, echo: Echo = _noop) -> None:
        files = [p for p in self.project.seed_files if p.exists()]
        if not files:
            return
        with connection(self.url("postgres", dbname)) as conn, conn.transaction():
            for path in files:
                echo(f"loading seed {path.relative_to(self.project.root)}")
                execute_file(conn, read_sql(path), path.relative_to(self.project.root).as_posix())

    def stop(self, echo: Echo = _noop) -> bool:
        if self.server.stop():
            return True
        orphan = self.orphan()
        if orphan is None:
            return False
        echo(f"stopping the orphaned postgres {orphan.describe()} (its state directory was deleted)")
        stop_orphan(orphan)
        return True

    def destroy(self) -> None:
        self.server.destroy()

    def reset(self, *, seed: bool = True, echo: Echo = _noop) -> migrations.MigrateResult | None:
        """Recreate the main database and apply shim, migrations and seed (like `supabase db reset`)."""
        if not self.running:
            raise Kwq8Error("the local stack is not running", hint="kwq8 stack start", exit_code=2)
        echo(f"recreating database {MAIN_DB}")
        self._ready_marker.unlink(missing_ok=True)
        self.drop_database(MAIN_DB)
        self.create_database(MAIN_DB)
        result = self.prepare_database(MAIN_DB, seed=seed, echo=echo)
        self._ready_marker.write_text(json.dumps({"prepared_at": time.time()}))
        return result

    # ------------------------------------------------------------------ databases

    def create_database(self, name: str, template: str | None = None) -> None:
        with connection(self.admin_url("template1"), autocommit=True) as conn:
            stmt = sql.SQL("create database {}").format(sql.Identifier(name))
            if template:
                stmt = sql.SQL("{} template {}").format(stmt, sql.Identifier(template))
            conn.execute(stmt)
        self.configure_database(name)
        if template:
            self.copy_role_settings(template, name)

    def copy_role_settings(self, source: str, target: str) -> None:
        """Give `target` the per-database role settings of `source` (the Data API limiter's
        `pgrst.db_pre_request` among them), which a clone does not inherit: the settings a
        migration writes for its own database."""
        with connection(self.admin_url(target), autocommit=True) as conn:
            rows = conn.execute(
                "select r.rolname, c from pg_db_role_setting s join pg_roles r on r.oid = s.setrole, "
                "unnest(s.setconfig) c where s.setdatabase = (select oid from pg_database where datname = %s)",
                (source,),
            ).fetchall()
            for role, setting in rows:
                key, _, value = setting.partition("=")
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", key):
                    raise Kwq8Error(f"unexpected role setting {key!r} in database {source}")
                conn.execute(
                    sql.SQL("alter role {} in database {} set {} = {}").format(
                        sql.Identifier(role), sql.Identifier(target), sql.SQL(key), sql.Literal(value)
                    )
                )

    def configure_database(self, name: str, *, test_clock: bool = False) -> None:
        """Database-level settings, which CREATE DATABASE ... TEMPLATE does not copy. With
        test_clock, the marker that lets `kwq8.frozen_now` move billing.clock(): a table owned by
        the bootstrap superuser, which no application role can create."""
        with connection(self.admin_url("template1"), autocommit=True) as conn:
            conn.execute(sql.SQL("grant all on database {} to postgres").format(sql.Identifier(name)))
        if test_clock:
            with connection(self.admin_url(name), autocommit=True) as conn:
                conn.execute("create schema if not exists kwq8_test")
                conn.execute("create table if not exists kwq8_test.clock ()")

    def drop_database(self, name: str) -> None:
        with connection(self.admin_url("template1"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))

    # ------------------------------------------------------------------ status

    def status(self) -> dict[str, Any]:
        running_port = self.server.running_port()
        info: dict[str, Any] = {
            "project_id": self.project.project_id,
            "state_dir": str(self.state_dir),
            "initialized": self.server.initialized,
            "running": running_port is not None,
            "port": running_port or self._port or self.project.db_port,
        }
        if running_port is None:
            orphan = self.orphan()
            if orphan is not None:
                info["orphan"] = f"{orphan.describe()}, state directory deleted; `kwq8 stack stop` stops it"
            return info
        info["db_url"] = self.url()
        info["api_keys"] = self.keys()
        info["ready"] = self._ready_marker.exists()
        try:
            st = migrations.status(self.project, self.target())
            info["revision"] = st.current
            info["pending_revisions"] = [r.revision for r in st.pending]
            info["changed_repeatables"] = [r.rel for r in st.repeatables]
            info["drift"] = [d.file for d in st.drift]
            with connection(self.url()) as conn:
                row = conn.execute("select version(), pg_database_size(current_database())").fetchone()
                assert row is not None
                info["server_version"] = row[0].split(",")[0]
                info["database_size_bytes"] = int(row[1])
        except Kwq8Error as exc:
            info["error"] = exc.message
        return info
