"""Configuration of the billing service, from environment variables only.

Required (the service refuses to start without them and names every one that is missing):

- ``KWQ8_SERVICE_DB_URL``: Postgres URL of a role that may ``set role service_role`` (on the
  local stack the ``postgres`` URL; in production a dedicated login role granted service_role);
- ``SUPABASE_JWT_SECRET`` (legacy HS256 secret) and/or ``SUPABASE_JWKS_URL`` (asymmetric keys,
  ``https://<ref>.supabase.co/auth/v1/.well-known/jwks.json``): at least one;
- ``UPAYMENTS_API_KEY``;
- ``PUBLIC_BASE_URL``: where UPayments reaches this service (the webhook URL is derived from it);
- in production (``UPAYMENTS_ENV=production``) the webhook signing secret,
  ``UPAYMENTS_WEBHOOK_SECRET`` or ``UPAYMENTS_API_SECRET``, always. In the sandbox a service
  without one refuses every webhook unless ``UPAYMENTS_ALLOW_UNSIGNED_WEBHOOKS=1`` (sandbox only)
  allows unsigned ones (each is still re-confirmed with get-payment-status).

Optional: see :data:`OPTIONAL` (defaults in parentheses there) and docs/operations.md.
Secrets never appear in messages or in ``repr``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from kwq8.domains.config import DomainSettings
from kwq8.payments.upayments import ConfigError as UPaymentsConfigError
from kwq8.payments.upayments import UPaymentsConfig
from kwq8.service.jwt_auth import MIN_HS256_SECRET_LEN
from kwq8.service.server import ServerLimits

WEBHOOK_PATH = "/billing/webhooks/upayments"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

OPTIONAL = {
    "KWQ8_SERVICE_DB_ROLE": "role each transaction runs as (service_role; empty: the login role itself)",
    "KWQ8_SERVICE_DB_POOL_SIZE": "database connections per instance (10)",
    "SUPABASE_JWT_ISSUER": "required `iss` of access tokens (not checked)",
    "UPAYMENTS_ENV": "sandbox | production (sandbox)",
    "UPAYMENTS_BASE_URL": "override of the UPayments API base URL, ending in /api/v1/",
    "UPAYMENTS_API_SECRET": "API Secret Key: signs our requests, verifies webhooks",
    "UPAYMENTS_WEBHOOK_SECRET": "webhook secret, when it differs from UPAYMENTS_API_SECRET",
    "UPAYMENTS_TIMEOUT_S": "timeout of UPayments calls in seconds (10)",
    "UPAYMENTS_WEBHOOK_TOLERANCE_S": "accepted age of a webhook's X-Timestamp in seconds (300)",
    "UPAYMENTS_ALLOW_UNSIGNED_WEBHOOKS": "1 to accept unsigned webhooks in the sandbox without a secret (0)",
    "BILLING_RETURN_URL": "where the customer lands after paying, on an allowed origin (https://kwq8.com/billing/return)",
    "BILLING_CANCEL_URL": "where the customer lands after cancelling, on an allowed origin (https://kwq8.com/billing/cancel)",
    "KWQ8_ALLOWED_ORIGINS": "comma-separated origins of the site: CORS allow-list and return URL hosts (https://kwq8.com)",
    "KWQ8_TRUSTED_PROXY_HOPS": "reverse proxies in front of the service that append X-Forwarded-For (0)",
    "KWQ8_RATE_WINDOW_S": "rate-limit window in seconds (60)",
    "KWQ8_RATE_IP_PER_WINDOW": "requests per client IP and window (120)",
    "KWQ8_RATE_CHECKOUT_PER_USER": "checkouts per user and window (10)",
    "KWQ8_RATE_STATUS_PER_USER": "payment status refreshes per user and window (20)",
    "KWQ8_RATE_WEBHOOK_PER_IP": "webhook deliveries per IP and window (1200)",
    "KWQ8_RATE_DOMAIN_SEARCH_PER_USER": "domain searches per user and window (30)",
    "KWQ8_MAX_BODY_BYTES": "largest accepted API request body (16384)",
    "KWQ8_MAX_WEBHOOK_BYTES": "largest accepted webhook body (65536)",
    "KWQ8_RATE_REJECTED_WEBHOOKS_PER_IP": "webhooks failing verification per IP and window, per instance (20)",
    "KWQ8_STATUS_FRESH_S": "a payment checked this many seconds ago is answered without asking UPayments (10)",
    "KWQ8_HEADER_TIMEOUT_S": "seconds a client has to send a request head (5)",
    "KWQ8_BODY_TIMEOUT_S": "seconds a client has to send a request body after its head (10)",
    "KWQ8_KEEP_ALIVE_S": "seconds an idle keep-alive connection stays open (5)",
    "KWQ8_MAX_CONNECTIONS": "open connections per instance (1000)",
    "KWQ8_MAX_CONNECTIONS_PER_IP": "open connections per client address; 0 behind a proxy that limits them (50)",
}


class ConfigError(Exception):
    """The service cannot start. The message names variables, never their values."""


Environment = Literal["sandbox", "production"]


@dataclass(frozen=True, repr=False)
class ServiceSettings:
    db_url: str
    upayments: UPaymentsConfig
    public_base_url: str
    jwt_secret: str | None = None
    jwks_url: str | None = None
    jwt_issuer: str | None = None
    environment: Environment = "sandbox"
    db_role: str | None = "service_role"
    db_pool_size: int = 10
    webhook_secret: str | None = None
    webhook_tolerance_s: int = 300
    allow_unsigned_webhooks: bool = False
    return_url: str = "https://kwq8.com/billing/return"
    cancel_url: str = "https://kwq8.com/billing/cancel"
    trusted_proxy_hops: int = 0
    rate_window_s: int = 60
    rate_ip_per_window: int = 120
    rate_checkout_per_user: int = 10
    rate_status_per_user: int = 20
    rate_webhook_per_ip: int = 1200
    rate_domain_search_per_user: int = 30
    max_body_bytes: int = 16384
    max_webhook_bytes: int = 65536
    rate_rejected_webhooks_per_ip: int = 20
    status_fresh_s: int = 10
    allowed_origins: tuple[str, ...] = ("https://kwq8.com",)
    header_timeout_s: int = 5
    body_timeout_s: int = 10
    keep_alive_s: int = 5
    max_connections: int = 1000
    max_connections_per_ip: int = 50
    # The domain routes (NAMECHEAP_*, VERCEL_*, KWQ8_DOMAIN_*): optional, see kwq8.domains.config.
    domains: DomainSettings = dataclasses.field(default_factory=DomainSettings)

    @property
    def notification_url(self) -> str:
        """The webhook URL given to UPayments with every charge, and covered by its signature."""
        return self.public_base_url + WEBHOOK_PATH

    def server_limits(self) -> ServerLimits:
        return ServerLimits(
            header_timeout_s=self.header_timeout_s,
            body_timeout_s=self.body_timeout_s,
            keep_alive_s=self.keep_alive_s,
            max_connections=self.max_connections,
            max_connections_per_ip=self.max_connections_per_ip,
        )

    def replace(self, **changes: object) -> ServiceSettings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return (
            f"ServiceSettings(environment={self.environment!r}, public_base_url={self.public_base_url!r}, "
            f"upayments={self.upayments!r}, jwt_secret={'set' if self.jwt_secret else 'unset'}, "
            f"jwks_url={self.jwks_url!r}, webhook_secret={'set' if self.webhook_secret else 'unset'}, "
            f"domains={self.domains!r})"
        )

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServiceSettings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str:
            return env.get(name, "").strip()

        missing: list[str] = []
        problems: list[str] = []
        db_url = get("KWQ8_SERVICE_DB_URL")
        if not db_url:
            missing.append("KWQ8_SERVICE_DB_URL")
        jwt_secret = get("SUPABASE_JWT_SECRET") or None
        jwks_url = get("SUPABASE_JWKS_URL") or None
        if not jwt_secret and not jwks_url:
            missing.append("SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL")
        if jwt_secret and len(jwt_secret) < MIN_HS256_SECRET_LEN:
            problems.append(f"SUPABASE_JWT_SECRET must be at least {MIN_HS256_SECRET_LEN} characters")
        if not get("UPAYMENTS_API_KEY"):
            missing.append("UPAYMENTS_API_KEY")
        public_base_url = get("PUBLIC_BASE_URL").rstrip("/")
        if not public_base_url:
            missing.append("PUBLIC_BASE_URL")
        environment = environment_name(get("UPAYMENTS_ENV"))
        production = environment == "production"
        if environment not in ("sandbox", "production"):
            problems.append("UPAYMENTS_ENV must be 'sandbox' or 'production'")
        webhook_secret = get("UPAYMENTS_WEBHOOK_SECRET") or get("UPAYMENTS_API_SECRET") or None
        allow_unsigned = _flag(get("UPAYMENTS_ALLOW_UNSIGNED_WEBHOOKS"), "UPAYMENTS_ALLOW_UNSIGNED_WEBHOOKS", problems)
        if environment == "production" and not webhook_secret:
            missing.append(
                "UPAYMENTS_WEBHOOK_SECRET or UPAYMENTS_API_SECRET (production never accepts unsigned webhooks)"
            )
        if environment == "production" and allow_unsigned:
            problems.append("UPAYMENTS_ALLOW_UNSIGNED_WEBHOOKS is for the sandbox only")
        if missing:
            raise ConfigError("missing environment variable(s): " + "; ".join(missing))

        upayments: UPaymentsConfig | None = None
        try:
            upayments = UPaymentsConfig.from_env(env)
            timeout = _number(get("UPAYMENTS_TIMEOUT_S"), "UPAYMENTS_TIMEOUT_S", 10.0, problems)
            upayments = dataclasses.replace(upayments, timeout_s=timeout)
        except UPaymentsConfigError as exc:
            problems.append(str(exc))
        origins = _origins(get("KWQ8_ALLOWED_ORIGINS"), production, problems) or cls.allowed_origins
        return_url = get("BILLING_RETURN_URL") or cls.return_url
        cancel_url = get("BILLING_CANCEL_URL") or cls.cancel_url
        for name, value in (
            ("PUBLIC_BASE_URL", public_base_url),
            ("BILLING_RETURN_URL", return_url),
            ("BILLING_CANCEL_URL", cancel_url),
        ):
            if value and not _acceptable_url(value, production=production):
                problems.append(
                    f"{name} must be an https URL without credentials, query or fragment "
                    "(http only for loopback hosts outside production)"
                )
            elif value and name != "PUBLIC_BASE_URL" and origin_of(value) not in origins:
                problems.append(f"{name} must be on one of KWQ8_ALLOWED_ORIGINS")
        if jwks_url and not _acceptable_url(jwks_url, production=production):
            problems.append("SUPABASE_JWKS_URL must be an https URL (http only for loopback hosts)")
        defaults = cls.__dataclass_fields__
        ints = {
            "db_pool_size": "KWQ8_SERVICE_DB_POOL_SIZE",
            "webhook_tolerance_s": "UPAYMENTS_WEBHOOK_TOLERANCE_S",
            "trusted_proxy_hops": "KWQ8_TRUSTED_PROXY_HOPS",
            "rate_window_s": "KWQ8_RATE_WINDOW_S",
            "rate_ip_per_window": "KWQ8_RATE_IP_PER_WINDOW",
            "rate_checkout_per_user": "KWQ8_RATE_CHECKOUT_PER_USER",
            "rate_status_per_user": "KWQ8_RATE_STATUS_PER_USER",
            "rate_webhook_per_ip": "KWQ8_RATE_WEBHOOK_PER_IP",
            "rate_domain_search_per_user": "KWQ8_RATE_DOMAIN_SEARCH_PER_USER",
            "max_body_bytes": "KWQ8_MAX_BODY_BYTES",
            "max_webhook_bytes": "KWQ8_MAX_WEBHOOK_BYTES",
            "rate_rejected_webhooks_per_ip": "KWQ8_RATE_REJECTED_WEBHOOKS_PER_IP",
            "status_fresh_s": "KWQ8_STATUS_FRESH_S",
            "header_timeout_s": "KWQ8_HEADER_TIMEOUT_S",
            "body_timeout_s": "KWQ8_BODY_TIMEOUT_S",
            "keep_alive_s": "KWQ8_KEEP_ALIVE_S",
            "max_connections": "KWQ8_MAX_CONNECTIONS",
            "max_connections_per_ip": "KWQ8_MAX_CONNECTIONS_PER_IP",
        }
        numbers: dict[str, int] = {}
        for field_name, var in ints.items():
            default = defaults[field_name].default
            assert isinstance(default, int)
            minimum = 0 if field_name in ("trusted_proxy_hops", "status_fresh_s", "max_connections_per_ip") else 1
            numbers[field_name] = _integer(get(var), var, default, minimum, problems)
        if problems or upayments is None:
            raise ConfigError("invalid configuration: " + "; ".join(problems))
        role = env.get("KWQ8_SERVICE_DB_ROLE")
        return cls(
            db_url=db_url,
            upayments=upayments,
            public_base_url=public_base_url,
            jwt_secret=jwt_secret,
            jwks_url=jwks_url,
            jwt_issuer=get("SUPABASE_JWT_ISSUER") or None,
            environment="production" if environment == "production" else "sandbox",
            db_role="service_role" if role is None else (role.strip() or None),
            webhook_secret=webhook_secret,
            allow_unsigned_webhooks=allow_unsigned,
            return_url=return_url,
            cancel_url=cancel_url,
            allowed_origins=origins,
            domains=DomainSettings.from_env(env),
            **numbers,  # type: ignore[arg-type]
        )


def environment_name(value: str) -> str:
    return (value or "sandbox").lower()


def origin_of(value: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, without a default port."""
    url = httpx.URL(value)
    default = {"https": 443, "http": 80}.get(url.scheme)
    port = f":{url.port}" if url.port is not None and url.port != default else ""
    return f"{url.scheme}://{url.host}{port}"


def _origins(value: str, production: bool, problems: list[str]) -> tuple[str, ...]:
    origins: list[str] = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        if not _acceptable_url(part, production=production) or httpx.URL(part).raw_path not in (b"", b"/"):
            problems.append(
                "KWQ8_ALLOWED_ORIGINS must list origins (https://host[:port], http only for loopback hosts)"
            )
            return ()
        origins.append(origin_of(part))
    return tuple(dict.fromkeys(origins))


def _acceptable_url(value: str, *, production: bool) -> bool:
    """An absolute http(s) URL with a host and nothing a redirect could be abused with: no
    credentials, query or fragment (ours are added), no whitespace or control characters."""
    if not value.isprintable() or any(c.isspace() for c in value):
        return False
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError):
        return False
    if not url.host or url.userinfo or url.query or url.fragment or "?" in value or "#" in value:
        return False
    if url.scheme == "https":
        return True
    return url.scheme == "http" and not production and _is_loopback(url.host)


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _flag(value: str, name: str, problems: list[str]) -> bool:
    if value.lower() in ("", "0", "false", "no", "off"):
        return False
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    problems.append(f"{name} must be 0 or 1")
    return False


def _integer(value: str, name: str, default: int, minimum: int, problems: list[str]) -> int:
    if not value:
        return default
    if not value.isascii() or not value.isdigit() or int(value) < minimum:
        problems.append(f"{name} must be an integer of at least {minimum}")
        return default
    return int(value)


def _number(value: str, name: str, default: float, problems: list[str]) -> float:
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number <= 120:
        problems.append(f"{name} must be a number of seconds between 0 and 120")
        return default
    return number
