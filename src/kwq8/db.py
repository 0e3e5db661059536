"""Database targets and connections, with failures turned into one clear line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from kwq8.errors import Kwq8Error

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", ""}


@dataclass(frozen=True)
class Target:
    """A database the toolkit works on: the local stack, or any Postgres given by URL."""

    url: str
    local_stack: bool = False

    @property
    def params(self) -> dict[str, Any]:
        return conninfo_to_dict(self.url)

    @property
    def host(self) -> str:
        return str(self.params.get("host") or "localhost")

    @property
    def port(self) -> int:
        return int(self.params.get("port") or 5432)

    @property
    def dbname(self) -> str:
        return str(self.params.get("dbname") or self.params.get("user") or "postgres")

    @property
    def user(self) -> str:
        return str(self.params.get("user") or "")

    @property
    def is_remote(self) -> bool:
        host = self.host
        return not (host in LOOPBACK_HOSTS or host.startswith("/"))

    def describe(self) -> str:
        """host:port/dbname as user, never the password."""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"


def make_url(user: str, password: str, host: str, port: int, dbname: str) -> str:
    return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{dbname}"


def connect(url: str, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection[Any]:
    """Connect, or fail with one line naming host and port, and a hint (exit code 2)."""
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        target = Target(url)
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise Kwq8Error(
            f"cannot connect to PostgreSQL at {target.host}:{target.port} "
            f"(database {target.dbname}, user {target.user}): {reason}",
            hint="is the server running? For the local stack: `kwq8 stack start` / `kwq8 stack status`; "
            "otherwise check --db-url / KWQ8_DB_URL",
            exit_code=2,
        ) from exc


@contextmanager
def connection(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    conn = connect(url, autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()
