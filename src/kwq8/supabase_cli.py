"""The pinned Supabase CLI (npm `supabase`, exact version in package.json): its database advisors
(splinter, the linter behind the dashboard's Advisors) run against any database URL, no Docker."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any, cast

from kwq8.advisors import Category, Finding, Level
from kwq8.config import Project
from kwq8.errors import Kwq8Error


def binary(project: Project) -> str:
    path = project.root / "node_modules" / ".bin" / "supabase"
    if not path.exists():
        raise Kwq8Error("the Supabase CLI is not installed in node_modules", hint="run scripts/install", exit_code=2)
    return str(path)


def advisors(project: Project, db_url: str) -> list[Finding]:
    """`supabase db advisors --type all --level info` on `db_url`, as the toolkit's findings."""
    url = db_url + ("&" if "?" in db_url else "?") + "sslmode=disable"
    args = ["db", "advisors", "--db-url", url, "--type", "all", "--level", "info", "--output-format", "json"]
    result = subprocess.run(
        [binary(project), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=project.root,
        env={**os.environ, "SUPABASE_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1"},
    )
    try:
        results: list[dict[str, Any]] = json.loads(result.stdout)["results"]
    except (ValueError, KeyError, TypeError) as exc:
        tail = (result.stdout + result.stderr).strip()[-500:].replace(db_url, "<db-url>")
        raise Kwq8Error(f"supabase db advisors failed (exit {result.returncode}): {tail}") from exc
    findings = []
    for r in results:
        meta = r.get("metadata") or {}
        obj = ".".join(str(meta[k]) for k in ("schema", "name") if meta.get(k))
        findings.append(
            Finding(
                name=str(r["name"]),
                title=str(r.get("title", "")),
                level=cast(Level, str(r["level"]).upper()),
                categories=tuple(cast(Category, c) for c in r.get("categories", [])),
                object=obj,
                detail=str(r.get("detail", "")),
                remediation=str(r.get("description", "")),
                docs_url=str(r.get("remediation", "")),
            )
        )
    return findings
