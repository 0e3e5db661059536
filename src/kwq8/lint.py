"""`kwq8 db lint`: sqlfluff (style), squawk (migration safety) and plpgsql_check (function bodies)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from kwq8.config import Project
from kwq8.db import Target, connect
from kwq8.errors import Kwq8Error
from kwq8.migrations import declared_objects, repeatable_files
from kwq8.sqlfile import is_no_transaction

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Finding:
    tool: str
    file: str
    line: int
    code: str
    message: str

    def render(self) -> str:
        return f"{self.file}:{self.line}: [{self.tool} {self.code}] {self.message}"


def _sql_paths(project: Project) -> list[str]:
    return [
        d.name
        for d in (project.sql_dir, project.functions_dir, project.policies_dir)
        if d.is_dir() and any(d.rglob("*.sql"))
    ]


def run_sqlfluff(project: Project) -> list[Finding]:
    paths = _sql_paths(project)
    if not paths:
        return []
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sqlfluff",
            "lint",
            *paths,
            "--format",
            "json",
            "--disable-progress-bar",
            "--nocolor",
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        raise Kwq8Error(f"sqlfluff failed: {result.stderr.strip()[-2000:]}")
    findings = []
    for record in json.loads(result.stdout or "[]"):
        for v in record.get("violations", []):
            findings.append(
                Finding(
                    "sqlfluff",
                    record["filepath"],
                    int(v.get("start_line_no", 0)),
                    v.get("code", ""),
                    v.get("description", ""),
                )
            )
    return findings


def _squawk_binary() -> str:
    local = Path(sys.executable).parent / "squawk"
    found = str(local) if local.exists() else shutil.which("squawk")
    if not found:
        raise Kwq8Error("squawk is not installed", hint="pip install squawk-cli (scripts/install does)")
    return found


def run_squawk(project: Project) -> list[Finding]:
    # Down files are destructive on purpose; only forward migrations are checked for safety.
    paths = sorted(p for p in project.sql_dir.glob("*.sql") if not p.name.endswith(".down.sql"))
    # `kwq8 db migrate` wraps each revision in a transaction, except the no-transaction ones
    # (`create index concurrently`), which squawk must judge as run outside one.
    groups: dict[bool, list[str]] = {True: [], False: []}
    for path in paths:
        groups[not is_no_transaction(path.read_text())].append(path.relative_to(project.root).as_posix())
    findings = []
    for in_transaction, files in groups.items():
        if files:
            findings += _squawk(project, files, in_transaction)
    return findings


def _squawk(project: Project, files: list[str], in_transaction: bool) -> list[Finding]:
    result = subprocess.run(
        [
            _squawk_binary(),
            "--reporter",
            "json",
            "--pg-version",
            str(project.major_version),
            "--assume-in-transaction" if in_transaction else "--no-assume-in-transaction",
            *files,
        ],
        cwd=project.root,
        capture_output=True,
        text=True,
    )
    if result.returncode not in (0, 1):
        raise Kwq8Error(f"squawk failed: {result.stderr.strip()[-2000:]}")
    return [
        Finding("squawk", v.get("file", "?"), int(v.get("line", 0)) + 1, v.get("rule_name", ""), v.get("message", ""))
        for v in json.loads(result.stdout or "[]")
    ]


_PLPGSQL_FUNCTIONS = """
    select p.oid, n.nspname, p.proname, p.prorettype = 'trigger'::regtype,
           (select t.tgrelid from pg_trigger t where t.tgfoid = p.oid limit 1)
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    join pg_language l on l.oid = p.prolang
    where l.lanname = 'plpgsql'
      and n.nspname not in ('pg_catalog', 'information_schema', 'extensions', 'auth', 'storage', 'cron')
      and not exists (select from pg_depend d where d.objid = p.oid and d.deptype = 'e')
    order by n.nspname, p.proname
"""


def _function_sources(project: Project) -> dict[tuple[str, str], tuple[str, int]]:
    """(schema, name) -> (file, line where its body starts), for mapping plpgsql_check lines."""
    sources: dict[tuple[str, str], tuple[str, int]] = {}
    candidates = [(f.rel, f.text) for f in repeatable_files(project)]
    candidates += [
        (p.relative_to(project.root).as_posix(), p.read_text()) for p in sorted(project.sql_dir.glob("*.sql"))
    ]
    for rel, text in candidates:
        for obj in declared_objects(text):
            if obj["type"] != "function":
                continue
            decl = re.search(
                rf"function\s+(?:\"?{re.escape(obj['schema'])}\"?\.)?\"?{re.escape(obj['name'])}\"?\s*\(",
                text,
                re.IGNORECASE,
            )
            if not decl:
                continue
            body = re.compile(r"\$[A-Za-z_]*\$").search(text, decl.end())
            start = text.count("\n", 0, body.end() if body else decl.start()) + 1
            sources.setdefault((obj["schema"], obj["name"]), (rel, start))
    return sources


def run_plpgsql_check(project: Project, target: Target) -> list[Finding]:
    findings: list[Finding] = []
    with connect(target.url) as conn:
        available = conn.execute("select count(*) from pg_available_extensions where name = 'plpgsql_check'").fetchone()
        if not available or not available[0]:
            return []
        sources = _function_sources(project)
        try:
            with conn.transaction(force_rollback=True):
                installed = conn.execute(
                    "select extnamespace::regnamespace::text from pg_extension where extname = 'plpgsql_check'"
                ).fetchone()
                schema = installed[0] if installed else "pg_temp"
                if not installed:
                    conn.execute("create extension plpgsql_check")
                    schema = "public"
                for oid, nspname, name, is_trigger, relid in conn.execute(_PLPGSQL_FUNCTIONS).fetchall():
                    if is_trigger and relid is None:
                        continue  # plpgsql_check needs the table a trigger function fires on
                    rows = _check_one(conn, schema, oid, relid or 0)
                    file, base = sources.get((nspname, name), (f"{nspname}.{name}", 1))
                    for level, lineno, sqlstate, message in rows:
                        line = base + max(int(lineno or 1), 1) - 1 if (nspname, name) in sources else int(lineno or 0)
                        findings.append(
                            Finding(
                                "plpgsql_check",
                                file,
                                line,
                                sqlstate or level,
                                f"{level}: {message}",
                            )
                        )
        except psycopg.errors.InsufficientPrivilege:
            return []
    return findings


def _check_one(conn: psycopg.Connection[Any], schema: str, oid: int, relid: int) -> list[tuple[Any, ...]]:
    return conn.execute(
        f'select level, lineno, sqlstate, message from "{schema}".plpgsql_check_function_tb('
        "%s, %s, fatal_errors => false, other_warnings => true, performance_warnings => false, "
        "extra_warnings => false, security_warnings => true)",
        (oid, relid),
    ).fetchall()


def run_all(project: Project, target: Target | None, echo: Echo) -> list[Finding]:
    echo("sqlfluff: sql/, functions/, policies/")
    findings = run_sqlfluff(project)
    echo("squawk: sql/")
    findings += run_squawk(project)
    if target is not None:
        echo(f"plpgsql_check: functions in {target.describe()}")
        findings += run_plpgsql_check(project, target)
    return sorted(findings, key=lambda f: (f.file, f.line, f.tool))
