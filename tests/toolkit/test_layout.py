"""The tree says where things are: a function file lives in the folder of the schema it defines
(public wrappers beside the core they call), and every SQL file opens with a comment saying what
it holds, in the product's words."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_DEFINES = re.compile(r"^create\s+(?:or\s+replace\s+)?function\s+(\w+)\.(\w+)", re.IGNORECASE | re.MULTILINE)
_HISTORY = re.compile(r"\b(the brief|the issue|used to be|was renamed|formerly)\b", re.IGNORECASE)


def sql_files() -> list[Path]:
    return sorted(p for d in ("functions", "policies", "sql") for p in (ROOT / d).rglob("*.sql"))


def misplaced_functions(root: Path) -> list[str]:
    wrong = []
    for path in sorted((root / "functions").rglob("*.sql")):
        folder = path.parent.name
        for schema, name in _DEFINES.findall(path.read_text(encoding="utf-8")):
            if schema.lower() not in (folder, "public"):
                wrong.append(f"{path.relative_to(root)} defines {schema}.{name}")
    return wrong


def test_every_function_file_lives_in_the_folder_of_its_schema() -> None:
    assert misplaced_functions(ROOT) == []


def test_the_folder_rule_catches_a_misplaced_function(tmp_path: Path) -> None:
    (tmp_path / "functions" / "billing").mkdir(parents=True)
    (tmp_path / "functions" / "billing" / "x.sql").write_text(
        "create or replace function billing.ok() returns int language sql as $$ select 1 $$;\n"
        "create or replace function public.ok() returns int language sql as $$ select 1 $$;\n"
        "create or replace function payments.elsewhere() returns int language sql as $$ select 1 $$;\n"
    )
    assert misplaced_functions(tmp_path) == ["functions/billing/x.sql defines payments.elsewhere"]


def test_every_sql_file_opens_with_a_comment_in_the_products_words() -> None:
    uncommented = [str(p.relative_to(ROOT)) for p in sql_files() if not p.read_text().lstrip().startswith("--")]
    assert uncommented == []
    # Versioned files that already ran keep their text (their checksums guard deployed databases).
    repeatable = [p for p in sql_files() if p.parts[-2] != "sql"]
    historical = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in repeatable for m in _HISTORY.finditer(p.read_text())]
    assert historical == []


def test_tests_are_grouped_in_folders_by_area() -> None:
    loose = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    assert loose == [], "put each test file in the folder of its area (tests/credits/, tests/payments/, ...)"
