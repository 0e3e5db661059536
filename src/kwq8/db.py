"""Database targets and connections, with failures turned into one clear line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict

from kwq8.errors import Kwq8Error

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", ""}
URL_SCHEMES = ("postgresql", "postgres")
_URL_HINT = "a database URL looks like postgresql://USER:PASSWORD@HOST:5432/DBNAME (check --db-url / KWQ8_DB_URL)"


def _redact(text: str, url: str) -> str:
    """`text` with the URL's password (raw and percent-encoded) replaced, whatever produced it."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    secrets = {p for p in (password, password and quote(password, safe="")) if p}
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def check_url(url: str) -> None:
    """Refuse, in one line and with exit code 2, anything that is not a usable PostgreSQL URL."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if not scheme:
        what = "a file path" if url.startswith(("/", ".", "~")) else "not a URL"
        raise Kwq8Error(f"--db-url {_redact(url, url)!r} is {what}, not a PostgreSQL URL", hint=_URL_HINT, exit_code=2)
    if scheme not in URL_SCHEMES:
        raise Kwq8Error(
            f"--db-url has the scheme {scheme}://, not postgresql:// (is it the API URL instead of the database's?)",
            hint=_URL_HINT,
            exit_code=2,
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        conninfo_to_dict(url)
    except (ValueError, psycopg.Error) as exc:
        raise Kwq8Error(
            f"--db-url is not a valid PostgreSQL URL: {_redact(str(exc).strip(), url)}", hint=_URL_HINT, exit_code=2
        ) from exc


@dataclass(frozen=True)
class Target:
    """A database the toolkit works on: the local stack, or any Postgres given by URL."""

    url: str
    local_stack: bool = False
    # The bootstrap superuser's URL of the same database, for a stack the toolkit runs itself
    # (it lends plpgsql_check for the length of a migration); never set for --db-url targets.
    admin_url: str | None = field(default=None, repr=False, compare=False)

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


# libpq's messages for each way a connection fails, and what the operator should check.
_CONNECT_FAILURES = (
    (re.compile(r"could not translate host name|Name or service not known|nodename nor servname"), "unknown host"),
    (re.compile(r"Connection refused|No such file or directory|could not connect"), "host unreachable"),
    (re.compile(r"timeout expired|timed out"), "host unreachable (timed out)"),
    (re.compile(r"password authentication failed|no password supplied|authentication failed"), "authentication failed"),
    (re.compile(r"database \".*\" does not exist"), "database missing"),
    (re.compile(r"role \".*\" does not exist"), "authentication failed (no such role)"),
    (re.compile(r"no pg_hba.conf entry|SSL"), "connection refused by the server's settings"),
    (re.compile(r"invalid .* value|invalid connection option|invalid URI"), "invalid connection option"),
)
_CONNECT_HINTS = {
    "unknown host": "check the host name in --db-url / KWQ8_DB_URL",
    "host unreachable": "is the server running? For the local stack: `kwq8 stack start` / `kwq8 stack status`; "
    "otherwise check host and port in --db-url / KWQ8_DB_URL",
    "authentication failed": "check the user and password in --db-url / KWQ8_DB_URL",
    "database missing": "check the database name at the end of --db-url (Supabase's is `postgres`)",
    "invalid connection option": _URL_HINT,
}


def connect_failure(url: str, exc: Exception) -> Kwq8Error:
    """The toolkit's one-line error for a failed connection: what failed, where, never the password."""
    target = Target(url)
    text = _redact(str(exc).strip(), url)
    reason = text.splitlines()[0].strip() if text else type(exc).__name__
    kind = next((k for pattern, k in _CONNECT_FAILURES if pattern.search(text)), "connection failed")
    hint = next((h for k, h in _CONNECT_HINTS.items() if kind.startswith(k)), _CONNECT_HINTS["host unreachable"])
    return Kwq8Error(
        f"cannot connect to PostgreSQL at {target.host}:{target.port} "
        f"(database {target.dbname}, user {target.user}): {kind}: {reason}",
        hint=hint,
        exit_code=2,
    )


def connect(url: str, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection[Any]:
    """Connect, or fail with one line naming host, port and the kind of failure (exit code 2)."""
    check_url(url)
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise connect_failure(url, exc) from exc


@contextmanager
def connection(url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection[Any]]:
    conn = connect(url, autocommit=autocommit)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def needs_migrations(what: str) -> Iterator[None]:
    """Around a call of the project's own SQL functions: on an unmigrated (or broken) database the
    operator gets one line naming `what` and a hint, not a driver traceback."""
    try:
        yield
    except psycopg.Error as exc:
        raise Kwq8Error(
            f"{what} failed: {exc.diag.message_primary or type(exc).__name__}",
            hint="is the database migrated? (`kwq8 db status`)",
        ) from None
