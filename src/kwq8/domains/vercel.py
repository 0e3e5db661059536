"""A client of Vercel's REST API for custom domains (payments_domains.md §4): add a domain to
the project (``POST /v10/projects/{id}/domains``), verify it (``POST /v9/.../verify``), read its
DNS configuration (``GET /v6/domains/{domain}/config``) and remove it (``DELETE /v9/...``).

The token goes in ``Authorization: Bearer`` only, never in a message or a ``repr``. Errors keep
Vercel's HTTP status, its ``error.code`` and, for 429, the ``Retry-After`` seconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_BASE_URL = "https://api.vercel.com"
DEFAULT_CNAME = "cname.vercel-dns.com"


class ConfigError(ValueError):
    """Vercel is not configured. The message names variables, never values."""


class VercelError(Exception):
    def __init__(self, status_code: int | None, code: str | None, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.status_code is None or self.status_code == 429 or self.status_code >= 500

    def __repr__(self) -> str:
        return f"VercelError(status_code={self.status_code!r}, code={self.code!r})"


@dataclass(frozen=True, repr=False)
class VercelConfig:
    token: str
    project_id: str
    team_id: str | None = None
    base_url: str = DEFAULT_BASE_URL
    timeout_s: float = 15.0

    def __repr__(self) -> str:
        return f"VercelConfig(project_id={self.project_id!r}, team_id={self.team_id!r}, token=set)"

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VercelConfig:
        env = os.environ if environ is None else environ
        missing = [name for name in ("VERCEL_TOKEN", "VERCEL_PROJECT_ID") if not env.get(name, "").strip()]
        if missing:
            raise ConfigError("missing environment variable(s): " + ", ".join(missing))
        return cls(
            token=env["VERCEL_TOKEN"].strip(),
            project_id=env["VERCEL_PROJECT_ID"].strip(),
            team_id=env.get("VERCEL_TEAM_ID", "").strip() or None,
            base_url=(env.get("VERCEL_BASE_URL", "").strip() or DEFAULT_BASE_URL).rstrip("/"),
        )


@dataclass(frozen=True)
class ProjectDomain:
    name: str
    verified: bool
    verification: list[dict[str, str]]

    def owner_records(self) -> list[dict[str, str]]:
        """The records the owner must create: Vercel's challenges, then the site's own."""
        records = [
            {"type": str(v.get("type", "")).upper(), "name": str(v.get("domain", "")), "value": str(v.get("value", ""))}
            for v in self.verification
        ]
        return records


@dataclass(frozen=True)
class DomainConfig:
    misconfigured: bool
    configured_by: str | None
    cname: str
    ipv4: str


class VercelClient:
    def __init__(self, config: VercelConfig, *, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> VercelClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VercelClient({self.config!r})"

    def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None) -> Any:
        query = dict(params or {})
        if self.config.team_id:
            query["teamId"] = self.config.team_id
        try:
            response = self._http.request(
                method,
                self.config.base_url + path,
                json=json,
                params=query,
                headers={"Authorization": f"Bearer {self.config.token}"},
            )
        except httpx.HTTPError as exc:
            raise VercelError(None, None, f"{method} {path.split('?')[0]}: {type(exc).__name__}") from None
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        if response.status_code >= 400:
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            retry = response.headers.get("retry-after", "")
            raise VercelError(
                response.status_code,
                str(code) if code else None,
                f"Vercel answered HTTP {response.status_code} ({code or 'no code'})",
                retry_after=int(retry) if retry.isdigit() else None,
            )
        return body

    def _project_path(self, suffix: str = "") -> str:
        return f"/projects/{quote(self.config.project_id, safe='')}/domains{suffix}"

    def add_domain(self, fqdn: str) -> ProjectDomain:
        body = self._request("POST", "/v10" + self._project_path(), json={"name": fqdn})
        return _project_domain(body, fqdn)

    def get_domain(self, fqdn: str) -> ProjectDomain:
        body = self._request("GET", "/v9" + self._project_path("/" + quote(fqdn, safe="")))
        return _project_domain(body, fqdn)

    def verify(self, fqdn: str) -> ProjectDomain:
        body = self._request("POST", "/v9" + self._project_path("/" + quote(fqdn, safe="") + "/verify"))
        return _project_domain(body, fqdn)

    def get_config(self, fqdn: str) -> DomainConfig:
        body = self._request(
            "GET", f"/v6/domains/{quote(fqdn, safe='')}/config", params={"projectIdOrName": self.config.project_id}
        )
        return DomainConfig(
            misconfigured=bool(body.get("misconfigured", True)),
            configured_by=body.get("configuredBy"),
            cname=_recommended(body.get("recommendedCNAME"), DEFAULT_CNAME),
            ipv4=_recommended(body.get("recommendedIPv4"), "76.76.21.21"),
        )

    def remove_domain(self, fqdn: str) -> None:
        try:
            self._request("DELETE", "/v9" + self._project_path("/" + quote(fqdn, safe="")))
        except VercelError as exc:
            if exc.status_code != 404:  # already gone
                raise


def _project_domain(body: Any, fqdn: str) -> ProjectDomain:
    if not isinstance(body, dict):
        body = {}
    verification = body.get("verification") or []
    return ProjectDomain(
        name=str(body.get("name") or fqdn),
        verified=bool(body.get("verified", False)),
        verification=[v for v in verification if isinstance(v, dict)],
    )


def _recommended(value: Any, default: str) -> str:
    """The rank-1 recommendation: ``[{"rank": 1, "value": "x"}]`` or ``[{"rank": 1, "value": ["x"]}]``."""
    if isinstance(value, list) and value:
        best = min((v for v in value if isinstance(v, dict)), key=lambda v: v.get("rank", 99), default=None)
        if best is not None:
            chosen = best.get("value")
            if isinstance(chosen, list) and chosen:
                chosen = chosen[0]
            if isinstance(chosen, str) and chosen:
                return chosen.rstrip(".")
    return default
