"""A client of the Namecheap XML API (payments_domains.md §3), for the calls KWq8 makes:
``domains.check``, ``users.getPricing``, ``domains.create``, ``domains.renew``, ``domains.getInfo`` and
``domains.dns.getHosts`` / ``setHosts``.

Every call is a form-encoded POST (as Namecheap's own Go SDK sends them) with the global
parameters ApiUser, ApiKey, UserName and ClientIp, so the key never travels in a URL; it never
appears in an error, a log line or a ``repr`` either. Answers are parsed with ``defusedxml`` (no
entity expansion), by local element names whatever the namespace, with attribute names matched
case-insensitively (the live API writes ``<host>`` and ``HostId`` where the docs show ``<Host>``
and ``HostID``). ``Status="ERROR"`` arrives with HTTP 200; HTTP 405, or an HTML page instead of
XML, is Namecheap throttling.

No call is retried here: whether a failure may be retried depends on the call (``create`` is not
idempotent) and is decided by the caller from :attr:`NamecheapError.kind`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from xml.etree.ElementTree import Element

import httpx
from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

PRODUCTION_URL = "https://api.namecheap.com/xml.response"
SANDBOX_URL = "https://api.sandbox.namecheap.com/xml.response"

# throttled: 405 or a throttle page (nothing was executed when it is a 405);
# api: Status="ERROR" with its error number; server: HTTP 5xx; transport: timeout, reset,
# refused; malformed: an answer that is not a usable ApiResponse.
ErrorKind = Literal["throttled", "html", "api", "server", "transport", "malformed", "config"]

# Domain-level numbers that mean "not in this account" for getInfo/getHosts.
NOT_IN_ACCOUNT = frozenset({"2019166", "2016166", "3016166"})
# Transient provider errors (retryable per Namecheap's Go SDK): for create, the outcome is unknown.
TRANSIENT = frozenset({"3050900", "5050900", "5019169", "5050169", "3031510"})


class ConfigError(ValueError):
    """Namecheap is not configured. The message names variables, never values."""


class NamecheapError(Exception):
    def __init__(self, kind: ErrorKind, message: str, *, number: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.number = number
        self.status_code = status_code

    @property
    def account_problem(self) -> bool:
        """Global parameters refused (key, user, whitelisted IP): nothing about the request itself."""
        return self.kind == "api" and bool(self.number) and str(self.number).startswith("1")

    def __repr__(self) -> str:
        return f"NamecheapError(kind={self.kind!r}, number={self.number!r}, status_code={self.status_code!r})"


@dataclass(frozen=True, repr=False)
class NamecheapConfig:
    api_user: str
    api_key: str
    username: str
    client_ip: str
    base_url: str = SANDBOX_URL
    environment: str = "sandbox"
    timeout_s: float = 20.0

    def __repr__(self) -> str:
        return f"NamecheapConfig(environment={self.environment!r}, base_url={self.base_url!r}, api_key=set)"

    __str__ = __repr__

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NamecheapConfig:
        env = os.environ if environ is None else environ
        get = lambda name: env.get(name, "").strip()  # noqa: E731
        required = ["NAMECHEAP_API_USER", "NAMECHEAP_API_KEY", "NAMECHEAP_CLIENT_IP"]
        missing = [name for name in required if not get(name)]
        if missing:
            raise ConfigError("missing environment variable(s): " + ", ".join(missing))
        environment = (get("NAMECHEAP_ENV") or "sandbox").lower()
        if environment not in ("sandbox", "production"):
            raise ConfigError("NAMECHEAP_ENV must be sandbox or production")
        base = get("NAMECHEAP_BASE_URL") or (PRODUCTION_URL if environment == "production" else SANDBOX_URL)
        return cls(
            api_user=get("NAMECHEAP_API_USER"),
            api_key=get("NAMECHEAP_API_KEY"),
            username=get("NAMECHEAP_USERNAME") or get("NAMECHEAP_API_USER"),
            client_ip=get("NAMECHEAP_CLIENT_IP"),
            base_url=base,
            environment=environment,
        )


@dataclass(frozen=True)
class Availability:
    fqdn: str
    available: bool
    premium: bool
    premium_usd: Decimal | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "fqdn": self.fqdn,
            "available": self.available,
            "premium": self.premium,
            "premium_usd": str(self.premium_usd) if self.premium_usd is not None else None,
        }


@dataclass(frozen=True)
class Host:
    name: str
    type: str
    address: str
    mx_pref: str | None = None
    ttl: str | None = None


@dataclass(frozen=True)
class Created:
    fqdn: str
    registered: bool
    charged_usd: Decimal | None
    domain_id: str | None
    order_id: str | None
    transaction_id: str | None
    raw: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Renewed:
    fqdn: str
    renewed: bool
    charged_usd: Decimal | None
    domain_id: str | None
    order_id: str | None
    expires_at: datetime | None


# Namecheap writes dates as 4/30/2021 11:31:13 AM (renew) or 04/30/2021 (getInfo).
_DATE_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y")


def parse_date(text: str | None) -> datetime | None:
    """A Namecheap date as an aware UTC datetime, or None when absent or unreadable."""
    value = (text or "").strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _attr(element: Element, name: str) -> str | None:
    wanted = name.lower()
    for key, value in element.attrib.items():
        if _local(key) == wanted:
            return value
    return None


def _find_all(root: Element, name: str) -> list[Element]:
    wanted = name.lower()
    return [e for e in root.iter() if _local(e.tag) == wanted]


def _find(root: Element, name: str) -> Element | None:
    found = _find_all(root, name)
    return found[0] if found else None


def _decimal(value: str | None) -> Decimal | None:
    if value is None or value.strip() == "":
        return None
    try:
        return Decimal(value.strip())
    except InvalidOperation:
        return None


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def parse_response(status_code: int, content_type: str, body: bytes) -> Element:
    """The CommandResponse of a successful answer, or NamecheapError."""
    if status_code == 405:
        raise NamecheapError("throttled", "Namecheap throttled the request (HTTP 405)", status_code=405)
    if status_code >= 500:
        raise NamecheapError("server", f"Namecheap answered HTTP {status_code}", status_code=status_code)
    head = body.lstrip()[:200].lower()
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        raise NamecheapError("html", "Namecheap answered an HTML page (throttled or down)", status_code=status_code)
    if status_code != 200:
        raise NamecheapError("malformed", f"Namecheap answered HTTP {status_code}", status_code=status_code)
    try:
        root = SafeET.fromstring(body)
    except (SafeET.ParseError, DefusedXmlException, ValueError):
        raise NamecheapError("malformed", "Namecheap's answer is not usable XML", status_code=status_code) from None
    if _local(root.tag) != "apiresponse":
        raise NamecheapError("malformed", "Namecheap's answer is not an ApiResponse", status_code=status_code)
    if (_attr(root, "Status") or "").upper() != "OK":
        error = _find(root, "Error")
        number = _attr(error, "Number") if error is not None else None
        text = (error.text or "").strip()[:300] if error is not None else "no error text"
        raise NamecheapError("api", f"Namecheap error {number}: {text}", number=number, status_code=status_code)
    command = _find(root, "CommandResponse")
    if command is None:
        raise NamecheapError("malformed", "Namecheap's answer has no CommandResponse", status_code=status_code)
    return command


class NamecheapClient:
    def __init__(self, config: NamecheapConfig, *, http: httpx.Client | None = None) -> None:
        self.config = config
        self._http = http or httpx.Client(timeout=config.timeout_s, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NamecheapClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NamecheapClient({self.config!r})"

    def _call(self, command: str, params: Mapping[str, str]) -> Element:
        form = {
            "ApiUser": self.config.api_user,
            "ApiKey": self.config.api_key,
            "UserName": self.config.username,
            "ClientIp": self.config.client_ip,
            "Command": command,
            **params,
        }
        try:
            response = self._http.post(self.config.base_url, data=form)
        except httpx.TimeoutException:
            raise NamecheapError("transport", f"{command}: no answer in time") from None
        except httpx.HTTPError as exc:
            raise NamecheapError("transport", f"{command}: {type(exc).__name__}") from None
        return parse_response(response.status_code, response.headers.get("content-type", ""), response.content)

    # ------------------------------------------------------------------ calls

    def check(self, fqdns: list[str]) -> list[Availability]:
        if not 1 <= len(fqdns) <= 50:
            raise ValueError("domains.check takes 1 to 50 names")
        command = self._call("namecheap.domains.check", {"DomainList": ",".join(fqdns)})
        out = []
        for result in _find_all(command, "DomainCheckResult"):
            fqdn = (_attr(result, "Domain") or "").lower()
            error_no = _attr(result, "ErrorNo") or "0"
            premium = _true(_attr(result, "IsPremiumName"))
            out.append(
                Availability(
                    fqdn=fqdn,
                    available=_true(_attr(result, "Available")) and error_no == "0",
                    premium=premium,
                    premium_usd=_decimal(_attr(result, "PremiumRegistrationPrice")) if premium else None,
                )
            )
        return out

    def prices(self, action: Literal["register", "renew"] = "register") -> list[dict[str, Any]]:
        """USD prices per TLD and term of registering or renewing (users.getPricing, ActionName)."""
        command = self._call("namecheap.users.getPricing", {"ProductType": "DOMAIN", "ActionName": action.upper()})
        prices = []
        for product in _find_all(command, "Product"):
            tld = (_attr(product, "Name") or "").lower().lstrip(".")
            for price in _find_all(product, "Price"):
                duration = _attr(price, "Duration")
                if (_attr(price, "DurationType") or "YEAR").upper() != "YEAR" or not (duration or "").isdigit():
                    continue
                if (_attr(price, "Currency") or "USD").upper() != "USD":
                    continue
                value = _decimal(_attr(price, "YourPrice")) or _decimal(_attr(price, "Price"))
                if value is None or not 1 <= int(duration or 0) <= 10:
                    continue
                prices.append({"tld": tld, "action": action, "years": int(duration or 0), "usd_price": str(value)})
        return prices

    def create(
        self,
        fqdn: str,
        years: int,
        contact: Mapping[str, Any],
        *,
        premium_usd: Decimal | None = None,
    ) -> Created:
        params: dict[str, str] = {
            "DomainName": fqdn,
            "Years": str(years),
            "AddFreeWhoisguard": "yes",
            "WGEnabled": "yes",
        }
        if fqdn.startswith("xn--") or ".xn--" in fqdn:
            params["IdnCode"] = "ara"
        for role in ("Registrant", "Tech", "Admin", "AuxBilling"):
            for field_name, key in (
                ("FirstName", "first_name"),
                ("LastName", "last_name"),
                ("OrganizationName", "organization"),
                ("Address1", "address1"),
                ("Address2", "address2"),
                ("City", "city"),
                ("StateProvince", "state_province"),
                ("PostalCode", "postal_code"),
                ("Country", "country"),
                ("Phone", "phone"),
                ("EmailAddress", "email"),
            ):
                value = contact.get(key)
                if value:
                    params[f"{role}{field_name}"] = str(value)
        if premium_usd is not None:
            params["IsPremiumDomain"] = "true"
            params["PremiumPrice"] = str(premium_usd)
        command = self._call("namecheap.domains.create", params)
        result = _find(command, "DomainCreateResult")
        if result is None:
            raise NamecheapError("malformed", "domains.create answered without a DomainCreateResult")
        return Created(
            fqdn=(_attr(result, "Domain") or fqdn).lower(),
            registered=_true(_attr(result, "Registered")),
            charged_usd=_decimal(_attr(result, "ChargedAmount")),
            domain_id=_attr(result, "DomainID"),
            order_id=_attr(result, "OrderID"),
            transaction_id=_attr(result, "TransactionID"),
            raw={k: v for k, v in result.attrib.items()},
        )

    def renew(self, fqdn: str, years: int, *, premium_usd: Decimal | None = None) -> Renewed:
        """namecheap.domains.renew: not idempotent, like create (the caller journals it)."""
        params = {"DomainName": fqdn, "Years": str(years)}
        if premium_usd is not None:
            params["IsPremiumDomain"] = "true"
            params["PremiumPrice"] = str(premium_usd)
        command = self._call("namecheap.domains.renew", params)
        result = _find(command, "DomainRenewResult")
        if result is None:
            raise NamecheapError("malformed", "domains.renew answered without a DomainRenewResult")
        expired = _find(result, "ExpiredDate")
        return Renewed(
            fqdn=(_attr(result, "DomainName") or fqdn).lower(),
            renewed=_true(_attr(result, "Renew")),
            charged_usd=_decimal(_attr(result, "ChargedAmount")),
            domain_id=_attr(result, "DomainID"),
            order_id=_attr(result, "OrderID"),
            expires_at=parse_date(expired.text if expired is not None else None),
        )

    def get_info(self, fqdn: str) -> dict[str, Any] | None:
        """The domain as this account holds it, or None when it is not in the account."""
        try:
            command = self._call("namecheap.domains.getInfo", {"DomainName": fqdn})
        except NamecheapError as exc:
            if exc.kind == "api" and exc.number in NOT_IN_ACCOUNT:
                return None
            raise
        result = _find(command, "DomainGetInfoResult")
        if result is None:
            raise NamecheapError("malformed", "domains.getInfo answered without a DomainGetInfoResult")
        owner = _attr(result, "IsOwner")
        if owner is not None and not _true(owner):
            return None
        expired = _find(result, "ExpiredDate")
        return {
            "domain_id": _attr(result, "ID"),
            "fqdn": (_attr(result, "DomainName") or fqdn).lower(),
            "status": _attr(result, "Status"),
            "expires": (expired.text or "").strip() if expired is not None else None,
            "expires_at": parse_date(expired.text if expired is not None else None),
        }

    def get_hosts(self, sld: str, tld: str) -> list[Host]:
        command = self._call("namecheap.domains.dns.getHosts", {"SLD": sld, "TLD": tld})
        hosts = []
        for host in _find_all(command, "host"):
            hosts.append(
                Host(
                    name=_attr(host, "Name") or "@",
                    type=(_attr(host, "Type") or "").upper(),
                    address=_attr(host, "Address") or "",
                    mx_pref=_attr(host, "MXPref"),
                    ttl=_attr(host, "TTL"),
                )
            )
        return hosts

    def set_hosts(self, sld: str, tld: str, hosts: list[Host]) -> bool:
        """Replace the whole record set (Namecheap deletes every record not sent)."""
        params: dict[str, str] = {"SLD": sld, "TLD": tld}
        for n, host in enumerate(hosts, start=1):
            params[f"HostName{n}"] = host.name
            params[f"RecordType{n}"] = host.type
            params[f"Address{n}"] = host.address
            params[f"TTL{n}"] = host.ttl or "1800"
            if host.type == "MX":
                params[f"MXPref{n}"] = host.mx_pref or "10"
        if any(h.type == "MX" for h in hosts):
            params["EmailType"] = "MX"
        command = self._call("namecheap.domains.dns.setHosts", params)
        result = _find(command, "DomainDNSSetHostsResult")
        return result is not None and _true(_attr(result, "IsSuccess"))


VERCEL_APEX_IP = "76.76.21.21"
# Records of the apex and www that point the site somewhere: replaced when connecting. Every
# other record (MX, TXT, other names) is the owner's and survives.
_SITE_TYPES = frozenset({"A", "AAAA", "CNAME", "ALIAS", "URL", "URL301", "FRAME"})


def merge_hosts(existing: list[Host], cname: str, apex_ip: str = VERCEL_APEX_IP) -> list[Host]:
    """The record set that points the domain at Vercel and keeps everything else."""
    kept = [h for h in existing if not (h.name in ("@", "www", "") and h.type in _SITE_TYPES)]
    return [
        *kept,
        Host(name="@", type="A", address=apex_ip, ttl="1800"),
        Host(name="www", type="CNAME", address=cname if cname.endswith(".") else cname + ".", ttl="1800"),
    ]
