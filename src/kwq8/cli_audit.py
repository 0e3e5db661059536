"""`kwq8 db audit` and `kwq8 db policies`: the database advisors and the access review."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.text import Text

from kwq8 import advisors, policy_matrix
from kwq8.cli_common import DbUrl, JsonOut, echo, err, out, print_json, resolve
from kwq8.db import connection


class MinLevel(StrEnum):
    info = "info"
    warn = "warn"
    error = "error"


LevelOption = Annotated[
    MinLevel,
    typer.Option(
        "--level",
        case_sensitive=False,
        help="Show findings at this level or above. The exit code counts shown findings only.",
    ),
]


def audit(
    db_url: DbUrl = None,
    json_out: JsonOut = False,
    level: LevelOption = MinLevel.info,
    supabase: Annotated[
        bool,
        typer.Option(
            "--supabase/--no-supabase",
            help=(
                "Run Supabase's advisors from the pinned Supabase CLI (`supabase db advisors`), as the "
                "dashboard shows them, beside KWq8's own lints (--no-supabase: KWq8's lints only)."
            ),
        ),
    ] = True,
) -> None:
    """Run the database advisors: Supabase's security and performance lints (from the pinned
    Supabase CLI) and KWq8's own.

    Exits 1 when an ERROR or WARN finding is shown, so CI can gate on it.
    """
    project, target = resolve(db_url)
    echo(f"auditing {target.describe()} (exposed schemas: {', '.join(project.exposed_schemas)})")
    with connection(target.url, autocommit=True) as conn:
        findings = advisors.run_advisors(conn, project.exposed_schemas)
    if supabase:
        from kwq8 import supabase_cli

        echo("with supabase db advisors (pinned Supabase CLI)")
        ours = {(f.name, f.object) for f in findings}
        findings += [f for f in supabase_cli.advisors(project, target.url) if (f.name, f.object) not in ours]
        findings = advisors.sort_findings(findings)
    shown = advisors.at_least(findings, level.value)
    if json_out:
        print_json([f.as_dict() for f in shown])
    else:
        _print_findings(shown)
    raise typer.Exit(advisors.exit_code(shown))


def _print_findings(findings: list[advisors.Finding]) -> None:
    if not findings:
        err.print("[green]no findings[/green]")
        return
    # A table on a terminal; one greppable line per finding in pipes and CI logs.
    if out.is_terminal:
        out.print(advisors.render_table(findings))
    else:
        for line in advisors.render_lines(findings):
            out.print(line, markup=False, highlight=False)
    summary = ", ".join(f"{n} {level.lower()}" for level, n in advisors.counts(findings).items())
    err.print(f"{len(findings)} finding(s): {summary}")
    for finding in _first_of_each_lint(findings):
        hint = f"{finding.name}: {finding.remediation} ({finding.docs_url})"
        err.print(Text(hint, style="dim"))


def _first_of_each_lint(findings: list[advisors.Finding]) -> list[advisors.Finding]:
    seen: dict[str, advisors.Finding] = {}
    for finding in findings:
        seen.setdefault(finding.name, finding)
    return list(seen.values())


def policies(db_url: DbUrl = None, json_out: JsonOut = False) -> None:
    """Review access: every RLS policy, and each API role's grants per table, in exposed schemas."""
    project, target = resolve(db_url)
    schemas = project.exposed_schemas
    with connection(target.url, autocommit=True) as conn:
        rows = policy_matrix.policy_rows(conn, schemas)
        grants = policy_matrix.table_grants(conn, schemas)
    if json_out:
        print_json(
            {
                "schemas": schemas,
                "policies": [r.as_dict() for r in rows],
                "grants": [g.as_dict() for g in grants],
            }
        )
        return
    if out.is_terminal:
        out.print(policy_matrix.policy_table(rows))
        out.print(policy_matrix.grant_table(grants))
    else:
        for line in [*policy_matrix.policy_lines(rows), *policy_matrix.grant_lines(grants)]:
            out.print(line, markup=False, highlight=False)
    noun = "policy" if len(rows) == 1 else "policies"
    err.print(f"{len(rows)} {noun} on {len(grants)} relation(s) in {', '.join(schemas)}")
    err.print(policy_matrix.LEGEND, soft_wrap=True, markup=False)


def register(db_app: typer.Typer) -> None:
    """Add `audit` and `policies` to the `kwq8 db` group."""
    db_app.command("audit")(audit)
    db_app.command("policies")(policies)
