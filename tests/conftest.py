"""Shared fixtures: scratch projects with their own migrations, blank shimmed databases, the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kwq8.config import Project, find_project
from kwq8.db import Target
from kwq8.stack import Stack

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ScratchProject:
    """A throwaway kwq8 project (its own migrations) to exercise the toolkit on."""

    root: Path

    @property
    def project(self) -> Project:
        return find_project(self.root)

    def revision(
        self,
        number: int,
        name: str,
        sql: str,
        *,
        down: str | None = None,
        files: list[str] | None = None,
    ) -> None:
        rev = f"{number:04d}"
        parent = repr(f"{number - 1:04d}") if number > 1 else "None"
        sql_file = f"{rev}_{name}.sql"
        names = files or [sql_file]
        (self.root / "migrations" / "versions" / f"{rev}_{name}.py").write_text(
            textwrap.dedent(f'''\
            """{name}"""
            from kwq8.migrations import run_sql, run_sql_down

            revision = "{rev}"
            down_revision = {parent}
            sql_files = {names!r}


            def upgrade() -> None:
                run_sql(sql_files)


            def downgrade() -> None:
                run_sql_down(sql_files)
            ''')
        )
        if files is None:
            (self.root / "sql" / sql_file).write_text(sql)
            if down is not None:
                (self.root / "sql" / f"{rev}_{name}.down.sql").write_text(down)

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


@pytest.fixture
def scratch(tmp_path: Path) -> ScratchProject:
    root = tmp_path / "proj"
    for folder in ("supabase", "migrations/versions", "sql", "functions", "policies"):
        (root / folder).mkdir(parents=True)
    config = (ROOT / "supabase" / "config.toml").read_text().replace('project_id = "kwq8"', 'project_id = "scratch"')
    (root / "supabase" / "config.toml").write_text(config)
    shutil.copy(ROOT / "migrations" / "env.py", root / "migrations" / "env.py")
    # The project's lint configuration (sqlfluff in pyproject.toml, squawk in .squawk.toml).
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copy(ROOT / ".squawk.toml", root / ".squawk.toml")
    return ScratchProject(root)


@pytest.fixture
def blank_db(kwq8_stack: Stack) -> Iterator[Target]:
    """A database with the Supabase shim and nothing else: what a new Supabase project starts as."""
    name = f"b_{uuid.uuid4().hex[:10]}"
    kwq8_stack.create_database(name)
    kwq8_stack.install_shim(name)
    yield Target(kwq8_stack.url("postgres", name))
    kwq8_stack.drop_database(name)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
    """Run `kwq8` as a separate process, as an operator would."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    full_env.pop("KWQ8_DB_URL", None) if env is None or "KWQ8_DB_URL" not in env else None
    proc = subprocess.run(
        [sys.executable, "-m", "kwq8", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli() -> object:
    return run_cli
