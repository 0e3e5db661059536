"""`kwq8 db lint`: sqlfluff (style), squawk (migration safety) and plpgsql_check (function bodies)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kwq8 import bodycheck
from kwq8.config import Project
from kwq8.db import Target, connect
from kwq8.errors import Kwq8Error
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


def run_plpgsql_check(project: Project, target: Target) -> list[Finding]:
    with bodycheck.lent(target), connect(target.url) as conn:
        available = conn.execute("select count(*) from pg_available_extensions where name = 'plpgsql_check'").fetchone()
        if not available or not available[0]:
            return []
        sources = bodycheck.function_sources(project)
        with conn.transaction(force_rollback=True):
            schema = bodycheck.installed_schema(conn) or bodycheck.borrow(conn)
            if schema is None:
                return []
            issues = bodycheck.check(conn, schema, sources)
    return [Finding("plpgsql_check", i.file, i.line, i.sqlstate, f"{i.level}: {i.message}") for i in issues]


def run_all(project: Project, target: Target | None, echo: Echo) -> list[Finding]:
    echo("sqlfluff: sql/, functions/, policies/")
    findings = run_sqlfluff(project)
    echo("squawk: sql/")
    findings += run_squawk(project)
    if target is not None:
        echo(f"plpgsql_check: functions in {target.describe()}")
        findings += run_plpgsql_check(project, target)
    return sorted(findings, key=lambda f: (f.file, f.line, f.tool))
