"""docs/api.md: every RPC from the SQL side, with an example run against the seeded database.

docs/frontend.md shows how the browser calls each RPC; this page adds what a server or an
operator needs: the signature as PostgreSQL prints it, who holds EXECUTE, the codes it can
raise, its COMMENT, and a call whose output is captured from a migrated and seeded database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from kwq8.contract.api_examples import EXAMPLES, SEED_USERS, Example, Step
from kwq8.contract.catalog import Catalog, Function
from kwq8.contract.docs_md import CodeIndex
from kwq8.errors import Kwq8Error
from kwq8.postgrest import Api, ApiError, Identity

_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_HEX = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::\d{2})?)?")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# The seed's ids are fixed (supabase/seed.sql), so they stay as they are.
_SEED_ID = "5eed0000-"
# Beyond this a row is shown one field a line, as psql's expanded display (\x) shows it.
_MAX_WIDTH = 100
_OUTPUT = re.compile(r"^### `([a-z_0-9]+)`\n.*?\n```text\n(.*?)```\n", re.S | re.M)

NORMALISATION = (
    "Values that differ from run to run are replaced: a uuid by `<uuid-N>` and a 32-digit hex id "
    "(order ids) by `<hex-N>`, N counting distinct values from 1 in each example (the seed's fixed "
    f"`{_SEED_ID}…` ids stay), a timestamp by `<timestamptz>` and a date by `<date>`."
)


@dataclass
class Normaliser:
    seen: dict[str, str] = field(default_factory=dict)

    def _number(self, kind: str, value: str) -> str:
        key = f"{kind}:{value}"
        if key not in self.seen:
            self.seen[key] = f"<{kind}-{sum(k.startswith(kind + ':') for k in self.seen) + 1}>"
        return self.seen[key]

    def __call__(self, text: str) -> str:
        text = _UUID.sub(lambda m: m[0] if m[0].startswith(_SEED_ID) else self._number("uuid", m[0]), text)
        text = _HEX.sub(lambda m: self._number("hex", m[0]), text)
        text = _TIMESTAMP.sub("<timestamptz>", text)
        return _DATE.sub("<date>", text)


def identity(name: str) -> Identity:
    if name == "anon":
        return Identity.anon()
    if name == "service_role":
        return Identity.service_role()
    user_id, email = SEED_USERS[name]
    return Identity.user(user_id, email)


def _table(columns: list[str], rows: list[list[str]]) -> str:
    """psql's aligned layout (nulls empty), or its expanded one for wide rows."""
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]
    count = f"({len(rows)} row{'' if len(rows) == 1 else 's'})"
    if sum(widths) + 3 * len(widths) > _MAX_WIDTH:
        name_width = max(len(c) for c in columns)
        lines = []
        for n, row in enumerate(rows, 1):
            lines.append(f"-[ RECORD {n} ]")
            lines += [f"{c.ljust(name_width)} | {v}".rstrip() for c, v in zip(columns, row, strict=True)]
        return "\n".join([*lines, count]) + "\n"

    def line(cells: list[str]) -> str:
        return " " + " | ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True)).rstrip()

    rule = "-" + "-+-".join("-" * w for w in widths) + "-"
    return "\n".join([line(columns), rule, *(line(r) for r in rows), count]) + "\n"


def _results(cur: psycopg.Cursor[Any], normalise: Normaliser) -> str:
    """Every result with columns, read as the server's text (what psql prints)."""
    out = []
    while True:
        res = cur.pgresult
        if res is not None and res.nfields:
            columns = [(res.fname(i) or b"").decode() for i in range(res.nfields)]
            rows = [
                [normalise((v or b"").decode()) for v in (res.get_value(r, c) for c in range(res.nfields))]
                for r in range(res.ntuples)
            ]
            out.append(_table(columns, rows))
        if not cur.nextset():
            return "\n".join(out)


def _error(exc: psycopg.Error, normalise: Normaliser) -> str:
    lines = [f"ERROR:  {exc.diag.sqlstate}: {exc.diag.message_primary}"]
    if exc.diag.message_detail:
        lines.append(f"DETAIL:  {exc.diag.message_detail}")
    return normalise("\n".join(lines)) + "\n"


def _step(conn: psycopg.Connection[Any], api: Api, step: Step, normalise: Normaliser) -> str:
    if step.as_ == "postgres":
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(step.sql.encode())
            return _results(cur, normalise)
    with api.request(identity(step.as_)) as cur:
        cur.execute(step.sql.encode())
        return _results(cur, normalise)


def run(conn: psycopg.Connection[Any], name: str, example: Example) -> str:
    """The call's output (or its error), in a transaction that is rolled back."""
    normalise = Normaliser()
    with conn.transaction(force_rollback=True):
        api = Api(conn, nested=True)
        for step in example.setup:
            try:
                _step(conn, api, step, normalise)
            except (psycopg.Error, ApiError) as exc:
                raise Kwq8Error(f"the setup of the {name} example failed: {exc}") from exc
        try:
            return _step(conn, api, example.call, normalise)
        except ApiError as exc:
            cause = exc.__cause__
            if not isinstance(cause, psycopg.Error):
                raise
            return _error(cause, normalise)


def run_all(conn: psycopg.Connection[Any]) -> dict[str, str]:
    return {name: run(conn, name, example) for name, example in EXAMPLES.items()}


def shown_outputs(text: str) -> dict[str, str]:
    """The output docs/api.md shows for each RPC's example."""
    return dict(_OUTPUT.findall(text))


def _who(name: str) -> str:
    if name in SEED_USERS:
        return f"{name} (authenticated, {SEED_USERS[name][1]})"
    return name


def _example(name: str, example: Example, output: str) -> str:
    sql = []
    for step in example.setup:
        sql.append(f"-- setup, as {_who(step.as_)}\n{step.sql.strip()}\n")
    sql.append(f"-- as {_who(example.call.as_)}\n{example.call.sql.strip()}\n")
    return "```sql\n" + "\n".join(sql) + "```\n\n```text\n" + output + "```\n\n"


def _entry(catalog: Catalog, index: CodeIndex, fn: Function, output: str) -> str:
    http = {c.code: c.http_status for c in catalog.codes}
    codes = ", ".join(f"{c} ({http[c]})" if c in http else c for c in index.codes(f"public.{fn.name}"))
    lines = [f"### `{fn.name}`\n\n"]
    if fn.comment:
        lines.append(fn.comment.strip() + "\n\n")
    lines.append(f"```sql\npublic.{fn.name}({fn.arguments_sql}) returns {fn.result_sql}\n```\n\n")
    lines.append(f"- callers: {', '.join(fn.roles)}\n")
    lines.append(f"- result: {catalog.result(fn)}\n")
    lines.append(f"- error codes: {codes or 'none of its own'}\n\n")
    lines.append(_example(fn.name, EXAMPLES[fn.name], output))
    return "".join(lines)


def missing_examples(catalog: Catalog) -> list[str]:
    return sorted({fn.name for fn in catalog.rpcs} - set(EXAMPLES))


def render(catalog: Catalog, conn: psycopg.Connection[Any], project_root: Path) -> str:
    missing = missing_examples(catalog)
    if missing:
        raise Kwq8Error(
            f"no example for {', '.join(missing)}",
            hint="add one to src/kwq8/contract/api_examples.py",
        )
    outputs = run_all(conn)
    index = CodeIndex(project_root / "functions")
    users = ", ".join(f"`{name}` ({email})" for name, (_, email) in SEED_USERS.items())
    out = [
        "# The API in SQL\n\n",
        "Generated by `kwq8 gen types` from the migrated database and "
        "`src/kwq8/contract/api_examples.py`; do not edit. `kwq8 gen types --check` (run by the test "
        "suite) fails when this page is out of date, and `tests/contract/test_api_docs.py` runs every example "
        "again and compares its output with the one shown here.\n\n",
        "Every function of schema `public` that `anon`, `authenticated` or `service_role` may execute "
        "is an RPC of the Data API (`POST /rest/v1/rpc/<name>` with the arguments as a JSON object); "
        "[frontend.md](frontend.md) shows the same calls from supabase-js. Here each one is given as "
        "PostgreSQL declares it, with the roles that hold EXECUTE, the error codes its body and the "
        "functions it calls can raise (HTTP status in brackets; messages in "
        "[frontend.md](frontend.md#error-codes)), and an example.\n\n",
        "## Examples\n\n",
        "Each example runs on a database migrated and loaded with `supabase/seed.sql`, in a "
        "transaction rolled back afterwards, so every example starts from the seed. A step runs as "
        "PostgREST runs a request: as the named role with its JWT claims set (`auth.uid()` is the "
        f"seeded user's id); the seeded users are {users}; `postgres` is the schema's owner. "
        "Setup steps prepare the call; their output is not shown, and they hand ids to it through "
        "`ex.*` settings (`set_config` / `current_setting`). The output is psql's aligned table, or "
        f"its expanded display for rows wider than {_MAX_WIDTH} characters; an error shows its "
        f"SQLSTATE, message and detail. {NORMALISATION}\n\n",
        "## RPCs\n\n| RPC | callers | result |\n|---|---|---|\n",
    ]
    for fn in catalog.rpcs:
        out.append(f"| [`{fn.name}`](#{fn.name}) | {', '.join(fn.roles)} | `{fn.result_sql}` |\n")
    out.append("\n")
    for fn in catalog.rpcs:
        out.append(_entry(catalog, index, fn, outputs[fn.name]))
    return "".join(out).rstrip("\n") + "\n"
