"""A database under test and the helpers tests use to act on it as Supabase's clients do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from kwq8.db import connect, make_url
from kwq8.pgserver import BOOTSTRAP_SUPERUSER, LOCAL_PASSWORD
from kwq8.postgrest import Api, Identity


class TestDatabase:
    """One database of the test stack.

    In the default mode every request is its own committed transaction, over connections as
    `authenticator` like PostgREST's. In `nested` mode (the `kwq8_tx` fixture) everything runs
    in one transaction on one `postgres` connection, rolled back when the test ends; requests are
    savepoints. Because that session belongs to `postgres`, a request could `set role postgres`
    back: test privilege escalation with `kwq8_db`, never with `kwq8_tx`.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        port: int,
        name: str,
        *,
        schemas: tuple[str, ...] = ("public",),
        nested_conn: psycopg.Connection[Any] | None = None,
    ) -> None:
        self.port = port
        self.name = name
        self.schemas = schemas
        self._nested = nested_conn
        self._conns: list[psycopg.Connection[Any]] = []
        self._api: Api | None = None
        self._apis: list[Api] = []
        self._settings: dict[str, str] = {}

    # ------------------------------------------------------------------ connections

    def url(self, role: str = "postgres") -> str:
        return make_url(role, LOCAL_PASSWORD, "127.0.0.1", self.port, self.name)

    @property
    def admin_url(self) -> str:
        return self.url(BOOTSTRAP_SUPERUSER)

    def connect(self, role: str = "postgres", *, autocommit: bool = True) -> psycopg.Connection[Any]:
        """A new connection (closed when the test ends). Roles: postgres, authenticator, supabase_admin."""
        conn = connect(self.url(role), autocommit=autocommit)
        self._conns.append(conn)
        return conn

    @property
    def nested(self) -> bool:
        return self._nested is not None

    def api(self) -> Api:
        """A new PostgREST-like caller on its own connection (one per thread for parallel tests)."""
        if self._nested is not None:
            api = Api(self._nested, schemas=self.schemas, nested=True)
        else:
            api = Api(self.connect("authenticator", autocommit=True), schemas=self.schemas)
        api.settings.update(self._settings)
        self._apis.append(api)
        return api

    def freeze_time(self, at: str | None) -> None:
        """Set (or with None, release) the clock billing.clock() returns, for every request and
        for `sql()`. Honoured only in test databases (kwq8.clock_override)."""
        if at is None:
            self._settings.pop("kwq8.frozen_now", None)
        else:
            self._settings["kwq8.frozen_now"] = at
        for api in self._apis:
            api.settings.clear()
            api.settings.update(self._settings)
        value = at or ""
        if self._nested is not None:
            self._nested.execute("select set_config('kwq8.frozen_now', %s, false)", (value,))
        elif hasattr(self, "_admin_conn"):
            self._admin_conn.execute("select set_config('kwq8.frozen_now', %s, false)", (value,))

    @property
    def default_api(self) -> Api:
        if self._api is None:
            self._api = self.api()
        return self._api

    def close(self) -> None:
        for conn in self._conns:
            conn.close()
        self._conns.clear()

    # ------------------------------------------------------------------ acting

    def sql(self, query: Any, params: Any = None) -> list[dict[str, Any]]:
        """Run SQL as the `postgres` role (the owner of the schema, as migrations run)."""
        if self._nested is not None:
            # A savepoint, so a failing statement does not abort the test's whole transaction.
            with self._nested.transaction(), self._nested.cursor(row_factory=dict_row) as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        conn = self._admin()
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    def scalar(self, query: Any, params: Any = None) -> Any:
        rows = self.sql(query, params)
        return next(iter(rows[0].values())) if rows else None

    def _admin(self) -> psycopg.Connection[Any]:
        if not hasattr(self, "_admin_conn"):
            self._admin_conn = self.connect("postgres", autocommit=True)
            if "kwq8.frozen_now" in self._settings:
                self._admin_conn.execute(
                    "select set_config('kwq8.frozen_now', %s, false)", (self._settings["kwq8.frozen_now"],)
                )
        return self._admin_conn

    def create_user(
        self,
        email: str | None = None,
        *,
        user_id: str | None = None,
        user_meta: dict[str, Any] | None = None,
        app_meta: dict[str, Any] | None = None,
    ) -> Identity:
        """Insert an auth user as Supabase Auth would on sign-up, and return its identity."""
        uid = user_id or str(uuid.uuid4())
        email = email or f"{uid[:8]}@example.test"
        self.sql(
            "insert into auth.users (id, email, aud, role, raw_user_meta_data, raw_app_meta_data, "
            "email_confirmed_at) values (%s, %s, 'authenticated', 'authenticated', %s, %s, now())",
            (
                uid,
                email,
                psycopg.types.json.Jsonb(user_meta or {}),
                psycopg.types.json.Jsonb(app_meta or {"provider": "email", "providers": ["email"]}),
            ),
        )
        return Identity.user(uid, email)

    def rpc(self, function: str, args: dict[str, Any] | None = None, *, as_: Identity) -> Any:
        return self.default_api.rpc(function, args, as_=as_)

    @contextmanager
    def request(self, identity: Identity, **kwargs: Any) -> Iterator[psycopg.Cursor[Any]]:
        with self.default_api.request(identity, **kwargs) as cur:
            yield cur

    def query_as(self, identity: Identity, query: Any, params: Any = None) -> list[tuple[Any, ...]]:
        """One request running `query` as `identity`; returns its rows."""
        with self.request(identity) as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []
