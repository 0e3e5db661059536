"""PostgREST's request semantics over a real connection, and its error contract.

Each request is one transaction in which, as PostgREST does, the role switches with a
transaction-local `role` setting and the JWT claims land in `request.jwt.claims`; the
impersonated role's own settings (statement_timeout) are applied locally too, and the
`pgrst.db_pre_request` function, if configured for the authenticator role, runs before the
main query. RPC arguments travel as one JSON object cast through json_to_record with the
function's declared types, so a JSON string reaches a numeric parameter exactly as it would
over HTTP. Errors map to HTTP statuses by PostgREST's table; `raise sqlstate 'PGRST'` with
JSON message and detail controls the body and status completely.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property, lru_cache, partial
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import set_json_loads

_loads = partial(json.loads, parse_float=Decimal)


@dataclass(frozen=True)
class Identity:
    """Who a request runs as: the JWT role and its claims."""

    role: str
    claims: dict[str, Any] | None = None

    @classmethod
    def anon(cls) -> Identity:
        return cls("anon", {"iss": "supabase-demo", "role": "anon"})

    @classmethod
    def service_role(cls) -> Identity:
        return cls("service_role", {"iss": "supabase-demo", "role": "service_role"})

    @classmethod
    def user(cls, user_id: str, email: str | None = None, **extra: Any) -> Identity:
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "role": "authenticated",
            "aud": "authenticated",
            "email": email or "",
            "aal": "aal1",
            "is_anonymous": False,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
        }
        claims.update(extra)
        return cls("authenticated", claims)

    @cached_property
    def claims_json(self) -> str:
        """The claims as PostgREST puts them in `request.jwt.claims` (the role always included)."""
        claims = dict(self.claims or {})
        claims.setdefault("role", self.role)
        return json.dumps(claims)

    @property
    def user_id(self) -> str | None:
        return (self.claims or {}).get("sub")

    @property
    def authenticated(self) -> bool:
        return self.role != "anon"


def http_status(sqlstate: str, authenticated: bool) -> int:
    """PostgREST's SQLSTATE -> HTTP status table."""
    exact = {
        "23503": 409,
        "23505": 409,
        "25006": 405,
        "53400": 500,
        "P0001": 400,
        "42883": 404,
        "42P01": 404,
        "42P17": 500,
    }
    if sqlstate in exact:
        return exact[sqlstate]
    if sqlstate == "42501":
        return 403 if authenticated else 401
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit():
        return int(sqlstate[2:])
    prefixes = {
        "08": 503,
        "09": 500,
        "0L": 403,
        "0P": 403,
        "25": 500,
        "28": 403,
        "2D": 500,
        "38": 500,
        "39": 500,
        "3B": 500,
        "40": 500,
        "53": 503,
        "54": 500,
        "55": 500,
        "57": 500,
        "58": 500,
        "F0": 500,
        "HV": 500,
        "P0": 500,
        "XX": 500,
    }
    return prefixes.get(sqlstate[:2], 400)


@dataclass
class ApiError(Exception):
    """What the browser receives: an HTTP status and `{code, message, details, hint}`."""

    status: int
    code: str
    message: str
    details: str | None = None
    hint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    sqlstate: str | None = None

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.code}: {self.message}")

    @property
    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
        }

    @classmethod
    def from_pg(cls, exc: psycopg.Error, *, authenticated: bool) -> ApiError:
        diag = exc.diag
        sqlstate = diag.sqlstate or exc.sqlstate or "XX000"
        if sqlstate == "PGRST":
            try:
                body = json.loads(diag.message_primary or "")
                detail = json.loads(diag.message_detail or "")
                return cls(
                    status=int(detail["status"]),
                    code=str(body.get("code", "")),
                    message=str(body.get("message", "")),
                    details=body.get("details"),
                    hint=body.get("hint"),
                    headers=dict(detail.get("headers") or {}),
                    sqlstate=sqlstate,
                )
            except (ValueError, KeyError, TypeError):
                return cls(
                    500,
                    "PGRST121",
                    "Could not parse JSON in the RAISE SQLSTATE 'PGRST' error",
                    details=diag.message_primary,
                    sqlstate=sqlstate,
                )
        return cls(
            status=http_status(sqlstate, authenticated),
            code=sqlstate,
            message=diag.message_primary or str(exc),
            details=diag.message_detail,
            hint=diag.message_hint,
            sqlstate=sqlstate,
        )


@lru_cache(maxsize=16)
def _pre_request_statement(function: str) -> bytes:
    return f"select {function}()".encode()


@dataclass(frozen=True)
class _Function:
    schema: str
    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]
    required: int
    volatile: bool
    returns_set: bool
    returns_void: bool


class Api:
    """A PostgREST-like caller over one connection (use one Api per thread).

    With `nested=True` every request is a savepoint inside a transaction the caller holds
    (the fast rolled-back test mode); otherwise each request is its own transaction.
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        schemas: tuple[str, ...] = ("public",),
        extra_search_path: tuple[str, ...] = ("public", "extensions"),
        nested: bool = False,
        pre_request: bool | str = True,
    ) -> None:
        """`pre_request=False` skips the configured db-pre-request function, and a function name
        calls that one instead (benchmarks measure what the configured one costs against these)."""
        self.conn = conn
        self.schemas = schemas
        self.extra_search_path = extra_search_path
        self.nested = nested
        self._functions: dict[tuple[str, str], list[_Function]] = {}
        self._statements: dict[tuple[str, str, tuple[str, ...]], str] = {}
        self._role_settings: dict[str, list[tuple[str, str]]] = {}
        self._pre_request: str | bool | None = (
            pre_request if isinstance(pre_request, str) else False if pre_request else None
        )
        self._use_pre_request = pre_request
        self._lock = threading.Lock()
        # Extra transaction-local settings for every request (tests freeze the clock with these).
        self.settings: dict[str, str] = {}
        set_json_loads(_loads, conn)

    # ------------------------------------------------------------------ catalogue lookups

    def _settings_for(self, role: str) -> list[tuple[str, str]]:
        if role not in self._role_settings:
            rows = self.conn.execute(
                "select unnest(setconfig) from pg_db_role_setting s join pg_roles r on r.oid = s.setrole "
                "where r.rolname = %s and s.setdatabase = 0",
                (role,),
            ).fetchall()
            pairs = [tuple(r[0].split("=", 1)) for r in rows]
            self._role_settings[role] = [(k, v) for k, v in pairs if k in ("statement_timeout", "lock_timeout")]
        return self._role_settings[role]

    def _pre_request_fn(self) -> str | None:
        if self._pre_request is False:
            # PostgREST's own rule: the authenticator's settings for this database win over its
            # settings for every database.
            row = self.conn.execute(
                "select substr(c, strpos(c, '=') + 1) from pg_db_role_setting s join pg_roles r on r.oid = s.setrole, "
                "unnest(s.setconfig) c where r.rolname = 'authenticator' and c like 'pgrst.db_pre_request=%%' "
                "and s.setdatabase in (0, (select oid from pg_database where datname = current_database())) "
                "order by s.setdatabase desc limit 1"
            ).fetchone()
            self._pre_request = row[0] if row else None
        return self._pre_request or None

    def reload_schema(self) -> None:
        """Forget cached functions and settings, as `NOTIFY pgrst, 'reload schema'` does."""
        self._functions.clear()
        self._statements.clear()
        self._role_settings.clear()
        use = self._use_pre_request
        self._pre_request = use if isinstance(use, str) else False if use else None

    def _lookup(self, schema: str, name: str) -> list[_Function]:
        key = (schema, name)
        if key not in self._functions:
            rows = self.conn.execute(
                """
                select p.proargnames, p.proargmodes,
                       array(select format_type(t, null) from unnest(p.proargtypes::oid[]) t),
                       p.pronargs, p.pronargdefaults, p.provolatile, p.proretset,
                       p.prorettype = 'void'::regtype
                from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = %s and p.proname = %s and p.prokind = 'f'
                """,
                (schema, name),
            ).fetchall()
            found = []
            for names, modes, types, nargs, ndefaults, volatility, retset, void in rows:
                in_names = [
                    n for n, m in zip(names or [], modes or ["i"] * nargs, strict=False) if m in ("i", "b", "v")
                ]
                found.append(
                    _Function(
                        schema,
                        name,
                        tuple(in_names),
                        tuple(types),
                        nargs - ndefaults,
                        volatility == "v",
                        retset,
                        void,
                    )
                )
            self._functions[key] = found
        return self._functions[key]

    def _resolve(self, schema: str, name: str, args: dict[str, Any]) -> _Function:
        keys = set(args)
        matches = [
            f for f in self._lookup(schema, name) if keys <= set(f.arg_names) and set(f.arg_names[: f.required]) <= keys
        ]
        if not matches:
            listed = ", ".join(sorted(keys))
            raise ApiError(
                404,
                "PGRST202",
                f"Could not find the function {schema}.{name}({listed}) in the schema cache",
                hint="Perhaps you meant to call the function with other arguments",
            )
        if len(matches) > 1:
            raise ApiError(300, "PGRST203", f"Could not choose the best candidate function for {schema}.{name}")
        return matches[0]

    # ------------------------------------------------------------------ requests

    @contextmanager
    def request(
        self,
        identity: Identity,
        *,
        method: str = "POST",
        path: str = "/",
        headers: dict[str, str] | None = None,
        read_only: bool = False,
    ) -> Iterator[psycopg.Cursor[Any]]:
        """One request: a transaction (or savepoint) with the role, claims and request settings set."""
        search_path = ", ".join(dict.fromkeys([*self.schemas[:1], *self.extra_search_path]))
        with self._lock:
            settings = self._settings_for(identity.role)
            pre_request = self._pre_request_fn()
        pairs: list[tuple[str, str]] = []
        if read_only and not self.nested:
            pairs.append(("transaction_read_only", "on"))
        pairs += [
            ("search_path", search_path),
            *settings,
            ("role", identity.role),
            ("request.jwt.claims", identity.claims_json),
            ("request.method", method),
            ("request.path", path),
            ("request.headers", json.dumps({k.lower(): v for k, v in (headers or {}).items()})),
            ("request.cookies", "{}"),
            *self.settings.items(),
        ]
        # One round trip for every transaction-local setting, as PostgREST sends them.
        statement = "select " + ", ".join(["set_config(%s, %s, true)"] * len(pairs))
        params = [item for pair in pairs for item in pair]
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(statement, params)
                if pre_request:
                    # One statement text per function, so the driver prepares it as PostgREST does.
                    cur.execute(_pre_request_statement(pre_request))
                yield cur
                if self.nested:
                    cur.execute("reset role")
                    cur.execute("select set_config('request.jwt.claims', '', true)")
        except psycopg.Error as exc:
            raise ApiError.from_pg(exc, authenticated=identity.authenticated) from exc

    def rpc(
        self,
        function: str,
        args: dict[str, Any] | None = None,
        *,
        as_: Identity,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """POST /rpc/<function> with a JSON body: returns the parsed JSON result (None for void)."""
        schema, _, name = function.rpartition(".")
        schema = schema or self.schemas[0]
        args = dict(args or {})
        with self._lock:
            fn = self._resolve(schema, name, args)
            cache_key = (schema, name, tuple(n for n in fn.arg_names if n in args))
            select = self._statements.get(cache_key)
            if select is None:
                select = self._statements[cache_key] = self._call_statement(fn, cache_key[2])
        params = (json.dumps(args, default=str),) if args else None
        with self.request(as_, path=f"/rpc/{name}", headers=headers, read_only=not fn.volatile) as cur:
            cur.execute(select, params)
            row = cur.fetchone()
        # The body travels as text and is parsed after COMMIT, as PostgREST answers after it:
        # the transaction (and any row lock it holds) does not wait for the client's JSON parser.
        if fn.returns_void or not row or row[0] is None:
            return None
        return _loads(row[0])

    def _call_statement(self, fn: _Function, names: tuple[str, ...]) -> str:
        """PostgREST's call shape: JSON body -> json_to_record with the declared types -> named args."""
        types = dict(zip(fn.arg_names, fn.arg_types, strict=False))
        call = sql.SQL("{}.{}({})").format(
            sql.Identifier(fn.schema),
            sql.Identifier(fn.name),
            sql.SQL(", ").join(sql.SQL("{} := _.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in names),
        )
        source = sql.SQL("")
        if names:
            columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(types[n])) for n in names)
            source = sql.SQL(" from json_to_record(%s::json) as _({})").format(columns)
        if fn.returns_set:
            lateral = sql.SQL(", lateral") if names else sql.SQL(" from")
            statement = sql.SQL("select coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb)::text{}{} {} r").format(
                source, lateral, call
            )
        else:
            statement = sql.SQL("select to_jsonb({})::text{}").format(call, source)
        return statement.as_string(None)
