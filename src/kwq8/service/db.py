"""The billing service's database access: a connection pool and calls of the public.* payment
functions, each in its own transaction as ``service_role`` (the same privileges a trusted server
has through PostgREST). Catalogued SQL errors become :class:`ServiceError` with their status,
Arabic message and English details intact.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from functools import partial
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb, set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from kwq8.postgrest import ApiError
from kwq8.service.errors import CatalogueEntry, ServiceError

log = logging.getLogger(__name__)

_loads = partial(json.loads, parse_float=Decimal)


class BillingDb:
    def __init__(self, url: str, *, role: str | None = "service_role", pool_size: int = 10, timeout_s: float = 10.0):
        self._role = role
        self._url = url
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(pool_size, 1),
            timeout=timeout_s,
            open=False,
            name="kwq8-billing",
            configure=self._configure,
            kwargs={
                "autocommit": True,
                # Safe behind Supabase's transaction pooler too.
                "prepare_threshold": None,
                "application_name": "kwq8-billing",
                "connect_timeout": 10,
                "options": "-c statement_timeout=15s -c lock_timeout=10s -c idle_in_transaction_session_timeout=30s",
            },
        )

    @staticmethod
    def _configure(conn: psycopg.Connection[Any]) -> None:
        set_json_loads(_loads, conn)

    def open(self) -> None:
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close()

    def ping(self, timeout_s: int = 10) -> None:
        """Raise when the database cannot be reached or used (checked once before serving)."""
        with psycopg.connect(self._url, connect_timeout=timeout_s, autocommit=True) as conn:
            if self._role:
                conn.execute(sql.SQL("set role {}").format(sql.Identifier(self._role)))
            conn.execute("select public.lookup_payment_event('upayments', 'startup-check', null, null)")

    def ready(self, timeout_s: float = 2.0) -> None:
        """Raise unless a pooled connection answers within `timeout_s` (the readiness probe)."""
        with self.pool.connection(timeout=timeout_s) as conn:
            conn.execute("select 1")

    def call(self, function: str, **args: Any) -> Any:
        """``public.<function>(name => value, ...)`` in one transaction, its result as JSON (a
        composite result as its object, as PostgREST answers it); dicts go as jsonb."""
        return self.call_in("public", function, **args)

    def call_rows(self, function: str, **args: Any) -> list[Any]:
        """A set-returning ``public.<function>``: its rows as a list of JSON objects."""
        rows: list[Any] = self._run(
            "public", function, args, "select coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb) from {} as r"
        )
        return rows

    def call_in(self, schema: str, function: str, **args: Any) -> Any:
        """``<schema>.<function>(name => value, ...)``: the domain functions live in the
        ``domains`` schema, which the Data API does not expose."""
        return self._run(schema, function, args, "select to_jsonb({})")

    def _run(self, schema: str, function: str, args: dict[str, Any], template: str) -> Any:
        call = sql.SQL("{}.{}({})").format(
            sql.Identifier(schema),
            sql.Identifier(function),
            sql.SQL(", ").join(sql.SQL("{} => %s").format(sql.Identifier(name)) for name in args),
        )
        statement = sql.SQL(template).format(call)
        params = [Jsonb(v) if isinstance(v, dict | list) else v for v in args.values()]
        try:
            with self.pool.connection() as conn, conn.transaction():
                if self._role:
                    conn.execute(sql.SQL("set local role {}").format(sql.Identifier(self._role)))
                row = conn.execute(statement, params).fetchone()
        except PoolTimeout as exc:
            log.error("database pool exhausted or unreachable calling %s", function)
            raise ServiceError("SYS_002", "database unavailable") from exc
        except psycopg.OperationalError as exc:
            log.error("database unavailable calling %s (%s)", function, type(exc).__name__)
            raise ServiceError("SYS_002", "database unavailable") from exc
        except psycopg.Error as exc:
            api = ApiError.from_pg(exc, authenticated=True)
            if api.sqlstate == "PGRST":
                raise ServiceError(
                    api.code, api.details, api.hint, status=api.status, message=api.message, headers=api.headers
                ) from exc
            log.error("database error calling %s: %s %s", function, api.code, api.message)
            raise ServiceError("SYS_001", "database error") from exc
        return row[0] if row else None

    def error_catalogue(self) -> dict[str, CatalogueEntry]:
        with self.pool.connection() as conn:
            rows = conn.execute("select code, http_status, message_ar, message_en from public.error_codes").fetchall()
        return {code: CatalogueEntry(status, ar, en) for code, status, ar, en in rows}
