"""A local fake of the Namecheap XML API for tests (payments_domains.md §3), served by uvicorn.

It answers ``POST /xml.response`` (form-encoded, as the real API accepts) in the documented
envelope and namespace, with the live API's quirks: errors with HTTP 200 and
``Status="ERROR"``, lower-case ``<host>`` with ``HostId`` alternating with ``HostID``, ``setHosts``
replacing the whole record set, ``renew`` extending the expiry that ``getInfo`` reports, and on
demand: HTTP 405 throttling, an HTML throttle page, a ``create`` or ``renew`` that does its
work and then answers too late (or never), and error numbers.

``calls`` is the record of every request (command, time, parameters without the key): the
oracle of the tests, independent of the client under test.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from kwq8.payments.fake_upayments import LocalServer

NS = "http://api.namecheap.com/xml.response"


@dataclass
class Call:
    command: str
    at: float
    params: dict[str, str]
    outcome: str = ""  # what the fake did: ok, error:<n>, throttled, html, registered-late, ...


@dataclass
class Registered:
    fqdn: str
    domain_id: str
    years: int
    expires: date = field(default_factory=lambda: datetime.now(UTC).date())
    hosts: list[dict[str, str]] = field(default_factory=list)


class FakeNamecheap:
    def __init__(
        self, api_user: str = "kwq8api", api_key: str = "nc-key-0123456789abcdef", client_ip: str = "127.0.0.1"
    ):
        self.api_user = api_user
        self.api_key = api_key
        self.client_ip = client_ip
        self.server = LocalServer(Starlette(routes=[Route("/xml.response", self._handle, methods=["GET", "POST"])]))
        self._lock = threading.Lock()
        self.reset()

    # ------------------------------------------------------------------ control

    def reset(self) -> None:
        with self._lock:
            self.calls: list[Call] = []
            self.registered: dict[str, Registered] = {}
            self.taken: set[str] = set()  # registered elsewhere
            self.premium: dict[str, Decimal] = {}
            self.prices: dict[str, Decimal] = {
                "com": Decimal("10.98"),
                "net": Decimal("12.98"),
                "org": Decimal("9.98"),
                "co": Decimal("24.98"),
                "store": Decimal("2.98"),
                "online": Decimal("1.98"),
                "site": Decimal("1.98"),
                "me": Decimal("18.98"),
            }
            # What renewing costs over registering, per year (users.getPricing, RENEW).
            self.renew_extra = Decimal("2.00")
            self.faults: dict[str, deque[str]] = {}
            self.create_delay_s = 0.0
            self.balance_low = False
            self._next_id = 1000

    def fail_next(self, command: str, *faults: str) -> None:
        """Queue faults for the next calls of a command: ``405``, ``html``, ``500``,
        ``error:<number>``, ``late:<seconds>`` (create: register, then answer after that long)."""
        with self._lock:
            self.faults.setdefault(command, deque()).extend(faults)

    def creates(self, fqdn: str | None = None, *, succeeded: bool = True) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.command == "namecheap.domains.create"
            and (fqdn is None or c.params.get("DomainName") == fqdn)
            and (not succeeded or c.outcome.startswith("registered"))
        ]

    def renews(self, fqdn: str | None = None, *, succeeded: bool = True) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.command == "namecheap.domains.renew"
            and (fqdn is None or c.params.get("DomainName") == fqdn)
            and (not succeeded or c.outcome.startswith("renewed"))
        ]

    def set_owner_hosts(self, fqdn: str, hosts: list[dict[str, str]]) -> None:
        self.registered[fqdn].hosts = [dict(h) for h in hosts]

    def dns(self, name: str) -> list[tuple[str, str]]:
        """What a resolver would see for ``name`` in the fake's zones: [(type, value)]."""
        for fqdn, reg in self.registered.items():
            if name == fqdn or name.endswith("." + fqdn):
                label = "@" if name == fqdn else name[: -len(fqdn) - 1]
                return [(h["Type"], h["Address"]) for h in reg.hosts if h["Name"] == label]
        return []

    @property
    def base_url(self) -> str:
        return self.server.origin + "/xml.response"

    def __enter__(self) -> FakeNamecheap:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    # ------------------------------------------------------------------ wire

    @staticmethod
    def _envelope(command: str, inner: str, *, status: str = "OK", errors: str = "") -> Response:
        body = (
            f'<?xml version="1.0" encoding="utf-8"?>\n<ApiResponse Status="{status}" xmlns="{NS}">'
            f"<Errors>{errors}</Errors><Warnings /><RequestedCommand>{escape(command.lower())}</RequestedCommand>"
            f"{inner}<Server>FAKE</Server><GMTTimeDifference>--0:00</GMTTimeDifference>"
            f"<ExecutionTime>0.01</ExecutionTime></ApiResponse>"
        )
        return Response(body, status_code=200, media_type="text/xml")

    def _error(self, command: str, number: str, text: str) -> Response:
        return self._envelope(command, "", status="ERROR", errors=f'<Error Number="{number}">{escape(text)}</Error>')

    async def _handle(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        params = {k: str(v) for k, v in {**dict(request.query_params), **form}.items()}
        lowered = {k.lower(): v for k, v in params.items()}
        command = lowered.get("command", "")
        call = Call(command=command, at=time.time(), params={k: v for k, v in params.items() if k.lower() != "apikey"})
        with self._lock:
            self.calls.append(call)
            queue = self.faults.get(command)
            fault = queue.popleft() if queue else None
        if lowered.get("apiuser") != self.api_user or lowered.get("apikey") != self.api_key:
            call.outcome = "error:1011102"
            return self._error(command, "1011102", "API Key is invalid or API access has not been enabled")
        if lowered.get("clientip") != self.client_ip:
            call.outcome = "error:1011150"
            return self._error(command, "1011150", f"Invalid request IP: {lowered.get('clientip')}")
        if fault == "405":
            call.outcome = "throttled"
            return Response("", status_code=405)
        if fault == "html":
            call.outcome = "html"
            return HTMLResponse("<!DOCTYPE html><html><body>Too many requests</body></html>", status_code=200)
        if fault == "500":
            call.outcome = "500"
            return Response("Internal error", status_code=500)
        if fault and fault.startswith("error:"):
            number = fault.split(":", 1)[1]
            call.outcome = fault
            return self._error(command, number, "Requested error")
        handler = {
            "namecheap.domains.check": self._check,
            "namecheap.users.getpricing": self._pricing,
            "namecheap.domains.create": self._create,
            "namecheap.domains.renew": self._renew,
            "namecheap.domains.getinfo": self._get_info,
            "namecheap.domains.dns.gethosts": self._get_hosts,
            "namecheap.domains.dns.sethosts": self._set_hosts,
        }.get(command.lower())
        if handler is None:
            call.outcome = "error:1010104"
            return self._error(command, "1010104", "Command is missing or unknown")
        return await handler(command, lowered, call, fault)

    async def _check(self, command: str, p: dict[str, str], call: Call, fault: str | None) -> Response:
        names = [n.strip().lower() for n in p.get("domainlist", "").split(",") if n.strip()]
        if len(names) > 50:
            call.outcome = "error:2011169"
            return self._error(command, "2011169", "Only 50 domains are allowed in a single check command")
        rows = []
        for name in reversed(names):  # the order of answers is not the order asked
            available = name not in self.registered and name not in self.taken
            premium = self.premium.get(name)
            rows.append(
                f'<DomainCheckResult Domain={quoteattr(name)} Available="{str(available).lower()}" ErrorNo="0" '
                f'Description="" IsPremiumName="{str(premium is not None).lower()}" '
                f'PremiumRegistrationPrice="{premium or 0}" PremiumRenewalPrice="0" PremiumRestorePrice="0" '
                f'PremiumTransferPrice="0" IcannFee="0" EapFee="0.0" />'
            )
        call.outcome = "ok"
        return self._envelope(
            command, f'<CommandResponse Type="namecheap.domains.check">{"".join(rows)}</CommandResponse>'
        )

    async def _pricing(self, command: str, p: dict[str, str], call: Call, fault: str | None) -> Response:
        action = p.get("actionname", "REGISTER").lower()
        products = []
        for tld, base in self.prices.items():
            price = base + self.renew_extra if action == "renew" else base
            per_term = "".join(
                f'<Price Duration="{n}" DurationType="YEAR" Price="{price * n}" PricingType="MULTIPLE" '
                f'AdditionalCost="0.18" RegularPrice="{price * n}" YourPrice="{price * n}" Currency="USD" />'
                for n in range(1, 11)
            )
            products.append(f'<Product Name="{tld}">{per_term}</Product>')
        call.outcome = "ok"
        inner = (
            '<CommandResponse Type="namecheap.users.getPricing"><UserGetPricingResult>'
            f'<ProductType Name="domains"><ProductCategory Name="{action}">{"".join(products)}'
            "</ProductCategory></ProductType></UserGetPricingResult></CommandResponse>"
        )
        return self._envelope(command, inner)

    async def _create(self, command: str, p: dict[str, str], call: Call, fault: str | None) -> Response:
        fqdn = p.get("domainname", "").lower()
        for role in ("registrant", "tech", "admin", "auxbilling"):
            for part in (
                "firstname",
                "lastname",
                "address1",
                "city",
                "stateprovince",
                "postalcode",
                "country",
                "phone",
                "emailaddress",
            ):
                if not p.get(role + part):
                    call.outcome = "error:2015182"
                    return self._error(command, "2015182", f"Parameter {role}{part} is missing")
        if self.balance_low:
            call.outcome = "error:2528166"
            return self._error(command, "2528166", "Order creation failed: insufficient funds")
        with self._lock:
            if fqdn in self.registered or fqdn in self.taken:
                call.outcome = "error:2030280"
                return self._error(command, "2030280", "Domain is not available")
            self._next_id += 1
            years = int(p.get("years", "2"))
            today = datetime.now(UTC).date()
            reg = Registered(
                fqdn=fqdn, domain_id=str(self._next_id), years=years, expires=today.replace(year=today.year + years)
            )
            self.registered[fqdn] = reg
            call.outcome = "registered"
        delay = self.create_delay_s
        if fault and fault.startswith("late:"):
            delay = float(fault.split(":", 1)[1])
            call.outcome = "registered-late"
        if delay:
            await asyncio.sleep(delay)
        inner = (
            '<CommandResponse Type="namecheap.domains.create">'
            f'<DomainCreateResult Domain={quoteattr(fqdn)} Registered="true" ChargedAmount="10.9800" '
            f'DomainID="{reg.domain_id}" OrderID="{reg.domain_id}1" TransactionID="{reg.domain_id}2" '
            'WhoisguardEnable="true" NonRealTimeDomain="false" /></CommandResponse>'
        )
        return self._envelope(command, inner)

    async def _renew(self, command: str, p: dict[str, str], call: Call, fault: str | None) -> Response:
        fqdn = p.get("domainname", "").lower()
        if self.balance_low:
            call.outcome = "error:2528166"
            return self._error(command, "2528166", "Order creation failed: insufficient funds")
        with self._lock:
            reg = self.registered.get(fqdn)
            if reg is None:
                call.outcome = "error:2019166"
                return self._error(command, "2019166", "Domain not found")
            years = int(p.get("years", "1"))
            reg.expires = reg.expires.replace(year=reg.expires.year + years)
            reg.years += years
            self._next_id += 1
            order = str(self._next_id)
            call.outcome = "renewed"
        delay = 0.0
        if fault and fault.startswith("late:"):
            delay = float(fault.split(":", 1)[1])
            call.outcome = "renewed-late"
        if delay:
            await asyncio.sleep(delay)
        expires = f"{reg.expires.month}/{reg.expires.day}/{reg.expires.year} 11:31:13 AM"
        inner = (
            '<CommandResponse Type="namecheap.domains.renew">'
            f'<DomainRenewResult DomainName={quoteattr(fqdn)} DomainID="{reg.domain_id}" Renew="true" '
            f'OrderID="{order}" TransactionID="{order}2" ChargedAmount="{self.prices.get(fqdn.rsplit(".", 1)[-1], 0)}">'
            f"<DomainDetails><ExpiredDate>{expires}</ExpiredDate><NumYears>0</NumYears></DomainDetails>"
            "</DomainRenewResult></CommandResponse>"
        )
        return self._envelope(command, inner)

    async def _get_info(self, command: str, p: dict[str, str], call: Call, fault: str | None) -> Response:
        fqdn = p.get("domainname", "").lower()
        reg = self.registered.get(fqdn)
        if reg is None:
            call.outcome = "error:2019166"
            return self._error(command, "2019166", "Domain not found")
        call.outcome = "ok"
        inner = (
            '<CommandResponse Type="namecheap.domains.getInfo">'
            f'<DomainGetInfoResult Status="Ok" ID="{reg.domain_id}" DomainName={quoteattr(fqdn)} '
            f'OwnerName="{self.api_user}" IsOwner="true" IsPremium="false"><DomainDetails>'
            f"<CreatedDate>01/01/2026</CreatedDate><ExpiredDate>{reg.expires:%m/%d/%Y}</ExpiredDate>"
            "</DomainDetails></DomainGetInfoResult></CommandResponse>"
        )
        return self._envelope(command, inner)

    async def _get_hosts(self, command: str, p: dict[str, str], call: Call, fault: str | None) -> Response:
        fqdn = f"{p.get('sld', '')}.{p.get('tld', '')}".lower()
        reg = self.registered.get(fqdn)
        if reg is None:
            call.outcome = "error:2019166"
            return self._error(command, "2019166", "Domain not found")
        rows = []
        for n, h in enumerate(reg.hosts, start=1):
            id_attr = "HostId" if n % 2 else "HostID"  # the live API's casing varies
            rows.append(
                f'<host {id_attr}="{n}" Name={quoteattr(h["Name"])} Type="{h["Type"]}" '
                f'Address={quoteattr(h["Address"])} MXPref="{h.get("MXPref", "10")}" TTL="{h.get("TTL", "1800")}" />'
            )
        call.outcome = "ok"
        inner = (
            '<CommandResponse Type="namecheap.domains.dns.getHosts">'
            f'<DomainDNSGetHostsResult Domain={quoteattr(fqdn)} IsUsingOurDNS="true">{"".join(rows)}'
            "</DomainDNSGetHostsResult></CommandResponse>"
        )
        return self._envelope(command, inner)

    async def _set_hosts(self, command: str, p: dict[str, str], call: Call, fault: str | None) -> Response:
        fqdn = f"{p.get('sld', '')}.{p.get('tld', '')}".lower()
        reg = self.registered.get(fqdn)
        if reg is None:
            call.outcome = "error:2019166"
            return self._error(command, "2019166", "Domain not found")
        hosts = []
        n = 1
        while f"hostname{n}" in p:
            host = {
                "Name": p[f"hostname{n}"],
                "Type": p.get(f"recordtype{n}", "").upper(),
                "Address": p.get(f"address{n}", ""),
            }
            if host["Type"] == "MX":
                host["MXPref"] = p.get(f"mxpref{n}", "10")
            host["TTL"] = p.get(f"ttl{n}", "1800")
            hosts.append(host)
            n += 1
        reg.hosts = hosts  # the whole set is replaced: what was not sent is gone
        call.outcome = "ok"
        inner = (
            '<CommandResponse Type="namecheap.domains.dns.setHosts">'
            f'<DomainDNSSetHostsResult Domain={quoteattr(fqdn)} IsSuccess="true" /></CommandResponse>'
        )
        return self._envelope(command, inner)


def max_in_window(times: list[float], window_s: float) -> int:
    """The most calls in any window of ``window_s`` seconds (a sliding window over the record)."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window_s:
            start += 1
        best = max(best, end - start + 1)
    return best


__all__ = ["Call", "FakeNamecheap", "Registered", "max_in_window"]
