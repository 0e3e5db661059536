"""KWq8's own database lints, beside Supabase's advisors.

Supabase's database linter (splinter, the Advisors of the dashboard) runs from the pinned
Supabase CLI (`supabase db advisors`, see supabase_cli.py), so its findings are exactly what the
hosted project shows. This module holds only the lints that are the project's own, or that the
pinned CLI does not ship yet: one read-only catalog query per file in `lints/`, returning one row
per offending object with two columns, `object` (e.g. `public.projects`) and `detail`.

Every query may use these named parameters:
  exposed_schemas  schemas the Data API serves (supabase/config.toml `[api] schemas`)
  system_schemas   schemas owned by Supabase or the toolkit, which user lints skip
  api_roles        the browser-facing roles that exist in the database (anon, authenticated)
  role             for per-role lints, the role checked
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import psycopg
from psycopg.rows import dict_row
from rich.table import Table
from rich.text import Text

from kwq8.db import connection
from kwq8.system_schemas import SYSTEM_SCHEMAS

if TYPE_CHECKING:
    from kwq8.config import Project

Level = Literal["ERROR", "WARN", "INFO"]
Category = Literal["SECURITY", "PERFORMANCE"]

LEVELS: tuple[Level, ...] = ("INFO", "WARN", "ERROR")
SECURITY: tuple[Category, ...] = ("SECURITY",)
PERFORMANCE: tuple[Category, ...] = ("PERFORMANCE",)


# The roles a browser request runs as. service_role bypasses RLS by design and is not checked.
API_ROLES: tuple[str, ...] = ("anon", "authenticated")

DOCS_URL = "https://supabase.com/docs/guides/database/database-linter?lint={}"


@dataclass(frozen=True)
class Finding:
    name: str
    title: str
    level: Level
    categories: tuple[Category, ...]
    object: str
    detail: str
    remediation: str
    docs_url: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["categories"] = list(self.categories)
        return data

    def render(self) -> str:
        """One plain line: `LEVEL name object: detail`."""
        return f"{self.level} {self.name} {self.object}: {self.detail}"


@dataclass(frozen=True)
class Lint:
    name: str
    doc: str  # splinter's numbered doc page, for the Supabase docs link
    title: str
    level: Level
    categories: tuple[Category, ...]
    remediation: str
    sql: str
    params: Mapping[str, str] = field(default_factory=dict)
    # This project's own lints document themselves in the repository, not in splinter.
    docs: str | None = None

    def finding(self, obj: str, detail: str) -> Finding:
        return Finding(
            name=self.name,
            title=self.title,
            level=self.level,
            categories=self.categories,
            object=obj,
            detail=detail,
            remediation=self.remediation,
            docs_url=self.docs or DOCS_URL.format(self.doc),
        )


LINTS_DIR = Path(__file__).with_name("lints")


def lint_sql(name: str) -> str:
    """The query of one lint, from `lints/<name>.sql`."""
    return (LINTS_DIR / f"{name}.sql").read_text()


LIMITER_LINT = Lint(
    name="data_api_limiter_missing",
    doc="",
    title="Data API write limiter not configured",
    level="ERROR",
    categories=SECURITY,
    remediation=(
        "alter role authenticator in database <this database> set pgrst.db_pre_request = "
        "'ratelimit.check_request'; notify pgrst, 'reload config' (or run `kwq8 db migrate`)."
    ),
    sql=lint_sql("data_api_limiter_missing"),
    docs="docs/data-api-limits.md",
)

LINTS: tuple[Lint, ...] = (
    Lint(
        name="rls_disabled_in_exposed_schema",
        doc="0013_rls_disabled_in_public",
        title="RLS disabled in an exposed schema",
        level="ERROR",
        categories=SECURITY,
        remediation=(
            "alter table ... enable row level security, then add policies; or move the table out "
            "of the exposed schemas."
        ),
        sql=lint_sql("rls_disabled_in_exposed_schema"),
    ),
    Lint(
        name="anon_security_definer_function_executable",
        doc="0028_anon_security_definer_function_executable",
        title="Public can execute security definer function",
        level="WARN",
        categories=SECURITY,
        remediation=(
            "Revoke execute on the function from anon (and public), or move it to a private schema "
            "and call it from a security invoker wrapper."
        ),
        sql=lint_sql("security_definer_function_executable"),
        params={"role": "anon"},
    ),
    Lint(
        name="authenticated_security_definer_function_executable",
        doc="0029_authenticated_security_definer_function_executable",
        title="Signed-in users can execute security definer function",
        level="WARN",
        categories=SECURITY,
        remediation=(
            "Revoke execute on the function from authenticated (and public) unless it is meant as "
            "an RPC endpoint, or move it to a private schema."
        ),
        sql=lint_sql("security_definer_function_executable"),
        params={"role": "authenticated"},
    ),
    LIMITER_LINT,
)

LINTS_BY_NAME: dict[str, Lint] = {lint.name: lint for lint in LINTS}


# --------------------------------------------------------------------------- running


@contextmanager
def catalog_search_path(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Run catalog queries with `search_path = pg_catalog`, restoring the caller's afterwards.

    pg_get_expr, regclass and regprocedure print a name without its schema when the schema is
    on the search_path; pinning it makes `auth.uid()` and `public.t` come out qualified, which
    the lints match on and report. The setting is transaction-local: when a lint fails, the
    rolled-back transaction (or savepoint) restores the caller's value by itself.
    """
    with conn.transaction():
        row = conn.execute("select current_setting('search_path')").fetchone()
        previous = row[0] if row else ""
        conn.execute("select set_config('search_path', 'pg_catalog', true)")
        yield
        conn.execute("select set_config('search_path', %s, true)", (previous,))


def existing_roles(conn: psycopg.Connection[Any], roles: Sequence[str]) -> list[str]:
    """The given roles that exist: privilege functions raise on an unknown role name."""
    rows = conn.execute(
        "select rolname::text from pg_roles where rolname = any(%s::name []) order by 1",
        (list(roles),),
    ).fetchall()
    return [row[0] for row in rows]


def run_lint(conn: psycopg.Connection[Any], lint: Lint, params: Mapping[str, Any]) -> list[Finding]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(lint.sql, {**params, **lint.params})
        return [lint.finding(row["object"], row["detail"]) for row in cur.fetchall()]


def run_advisors(
    conn: psycopg.Connection[Any],
    exposed_schemas: Sequence[str],
    *,
    lints: Iterable[Lint] = LINTS,
) -> list[Finding]:
    """Run the lints on the database behind `conn` (read only); most severe findings first."""
    findings: list[Finding] = []
    with catalog_search_path(conn):
        api_roles = existing_roles(conn, API_ROLES)
        params = {
            "exposed_schemas": list(exposed_schemas),
            "system_schemas": list(SYSTEM_SCHEMAS),
            "api_roles": api_roles,
        }
        for lint in lints:
            # A per-role lint has nothing to check on a database without that role.
            if "role" in lint.params and lint.params["role"] not in api_roles:
                continue
            findings.extend(run_lint(conn, lint, params))
    return sort_findings(findings)


def audit(project: Project, db_url: str, *, supabase: bool, echo: Callable[[str], None]) -> list[Finding]:
    """`kwq8 db audit`: KWq8's lints on the project's exposed schemas and, with `supabase`, the
    pinned Supabase CLI's advisors beside them (a finding both report is kept once, as KWq8's)."""
    with connection(db_url, autocommit=True) as conn:
        findings = run_advisors(conn, project.exposed_schemas)
    if not supabase:
        return findings
    from kwq8 import supabase_cli

    echo("with supabase db advisors (pinned Supabase CLI)")
    ours = {(f.name, f.object) for f in findings}
    findings += [f for f in supabase_cli.advisors(project, db_url) if (f.name, f.object) not in ours]
    return sort_findings(findings)


def limiter_errors(db_url: str) -> list[Finding]:
    """The Data API write limiter's lint alone: part of the deploy gate (`kwq8 db status`)."""
    with connection(db_url) as conn, catalog_search_path(conn):
        return run_lint(conn, LIMITER_LINT, {})


def level_rank(level: str) -> int:
    """0 for INFO up to 2 for ERROR, case-insensitively; ValueError for an unknown level."""
    return LEVELS.index(level.upper())


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-level_rank(f.level), f.name, f.object, f.detail))


def at_least(findings: Iterable[Finding], level: str) -> list[Finding]:
    """The findings at `level` or more severe (INFO < WARN < ERROR)."""
    floor = level_rank(level)
    return [f for f in findings if level_rank(f.level) >= floor]


def exit_code(findings: Iterable[Finding]) -> int:
    """1 when anything needs fixing (an ERROR or a WARN), else 0: INFO findings are advice."""
    return 1 if any(f.level in ("ERROR", "WARN") for f in findings) else 0


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    result: dict[str, int] = dict.fromkeys(reversed(LEVELS), 0)
    for f in findings:
        result[f.level] += 1
    return result


# --------------------------------------------------------------------------- rendering

_LEVEL_STYLE = {"ERROR": "bold red", "WARN": "yellow", "INFO": "cyan"}


def render_lines(findings: Iterable[Finding]) -> list[str]:
    """Plain `LEVEL name object: detail` lines, for logs, CI and pipes."""
    return [f.render() for f in findings]


def render_table(findings: Iterable[Finding]) -> Table:
    """A rich table for terminals. Cells are Text, so `text[]` in a detail is not read as markup."""
    table = Table("level", "lint", "object", "detail")
    for f in findings:
        table.add_row(
            Text(f.level, style=_LEVEL_STYLE.get(f.level, "")),
            Text(f.name),
            Text(f.object),
            Text(f.detail),
        )
    return table
