"""The domain routes of the billing service. Each needs a signed-in user (the same token check
and per-IP limit as the billing routes) and answers DOM_013 (503) when the settings it needs are
missing, while the rest of the service keeps working.

  POST   /domains/search    {query, years?}                         availability and KWD prices
  POST   /domains/checkout  {project_id, fqdn, years?, payment_method?, language?}  quote + payment
  POST   /domains/renew     {fqdn, years?, payment_method?, language?}   renewal quote + payment
  POST   /domains/connect   {project_id, fqdn}         the owner's own domain: records to create
  POST   /domains/move      {fqdn, project_id}         to another project of the same owner
  GET    /domains/{fqdn}    a domain's status, setup step, records and latest order
  DELETE /domains/{fqdn}    removed from the Vercel project, then forgotten

Checkout and renewal re-check the name at Namecheap, freeze the price in SQL and open a payment
on the billing checkout path (BillingService.charge): the webhook, status check and
reconciliation that confirm plan payments confirm these too, and the domain job does the rest.
The service runs that job itself every ``jobs_interval_s`` (a thread, never in a request); any
number of instances and ``kwq8 jobs domains`` may run it at once, as orders and steps are leased.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kwq8.domains.namecheap import NamecheapClient
from kwq8.domains.names import DomainName, NameError_, parse, parse_host
from kwq8.domains.search import refresh, refresh_prices, search
from kwq8.domains.vercel import VercelClient, VercelError
from kwq8.domains.worker import run_once
from kwq8.service.errors import ServiceError
from kwq8.service.jwt_auth import Claims
from kwq8.service.models import (
    DomainCheckoutRequest,
    DomainConnectRequest,
    DomainMoveRequest,
    DomainRenewRequest,
    DomainSearchRequest,
    parse_json_body,
)

if TYPE_CHECKING:
    from kwq8.service.app import BillingService

log = logging.getLogger("kwq8.service.domains")


def vercel_error(exc: VercelError) -> ServiceError:
    """What the owner sees of a Vercel refusal: never a 500."""
    if exc.status_code == 409:
        return ServiceError("DOM_009", "the domain is used by another Vercel project")
    if exc.status_code == 403:
        return ServiceError("DOM_010", "the domain belongs to another Vercel team")
    if exc.status_code == 429:
        wait = str(exc.retry_after or 60)
        return ServiceError(
            "DOM_005", "Vercel is rate limiting", f"try again in {wait} s", headers={"Retry-After": wait}
        )
    return ServiceError("DOM_008", f"Vercel answered {exc.status_code or 'nothing'}", status=502)


def _name(parser: Any, text: str) -> Any:
    try:
        return parser(text)
    except NameError_ as exc:
        raise ServiceError(exc.code, exc.reason) from None


class DomainRoutes:
    def __init__(self, service: BillingService) -> None:
        self.service = service
        self.db = service.db
        settings = service.settings.domains
        self.settings = settings
        self.namecheap = NamecheapClient(settings.namecheap) if settings.namecheap else None
        self.vercel = VercelClient(settings.vercel) if settings.vercel else None
        if settings.problems:
            log.warning("domain routes partly unconfigured", extra={"problems": "; ".join(settings.problems)})
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None
        if settings.jobs_interval_s > 0 and self.namecheap is not None:
            self._scheduler = threading.Thread(target=self._schedule, name="kwq8-domain-jobs", daemon=True)
            self._scheduler.start()

    def _schedule(self) -> None:
        worker = f"serve:{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:100]
        assert self.namecheap is not None
        while not self._stop.wait(self.settings.jobs_interval_s):
            try:
                report = run_once(self.db, self.namecheap, self.vercel, worker)
            except Exception as exc:  # the next run tries again; the rows say where each order is
                log.error("domain jobs failed", extra={"error_kind": type(exc).__name__})
                continue
            if report.outcomes:
                log.info("domain jobs", extra={"outcomes": dict(report.outcomes)})

    def close(self) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join(timeout=30)
        if self.namecheap is not None:
            self.namecheap.close()
        if self.vercel is not None:
            self.vercel.close()

    def routes(self) -> list[Route]:
        return [
            Route("/domains/search", self.search, methods=["POST"]),
            Route("/domains/checkout", self.checkout, methods=["POST"]),
            Route("/domains/renew", self.renew, methods=["POST"]),
            Route("/domains/connect", self.connect, methods=["POST"]),
            Route("/domains/move", self.move, methods=["POST"]),
            Route("/domains/{fqdn}", self.status, methods=["GET"]),
            Route("/domains/{fqdn}", self.remove, methods=["DELETE"]),
        ]

    def configured(self) -> dict[str, str]:
        """What /readyz reports: the service is ready without domains, but an operator should see
        which domain routes would answer DOM_013."""
        sales = self.settings.can_sell and self.namecheap is not None
        return {
            "sales": "configured" if sales else "not configured",
            "connect": "configured" if self.vercel is not None else "not configured",
        }

    # ------------------------------------------------------------------ plumbing

    def _selling(self) -> NamecheapClient:
        if not self.settings.can_sell or self.namecheap is None:
            raise ServiceError("DOM_013", "domain sales are not configured on this server")
        return self.namecheap

    def _connecting(self) -> VercelClient:
        if self.vercel is None:
            raise ServiceError("DOM_013", "domain connection is not configured on this server")
        return self.vercel

    async def _user(self, request: Request, limit: int | None = None, purpose: str = "") -> Claims:
        claims: Claims = await run_in_threadpool(self.service._user, request, limit, purpose)
        return claims

    @staticmethod
    def _key(request: Request) -> str:
        key = request.headers.get("idempotency-key") or str(uuid.uuid4())
        if not (1 <= len(key) <= 255 and all(0x21 <= ord(c) <= 0x7E for c in key)):
            raise ServiceError("VAL_001", "Idempotency-Key must be 1-255 printable ASCII characters")
        return key

    def _payment_view(self, payment: dict[str, Any], quote: dict[str, Any]) -> dict[str, Any]:
        view = self.service._view(payment)
        view.pop("plan", None)
        view.pop("credits_granted", None)
        price = quote["price_kwd"]
        return {**view, "purpose": "domain", "quote": {**quote, "price_kwd": f"{price:.3f}"}}

    # ------------------------------------------------------------------ search

    async def search(self, request: Request) -> Response:
        claims = await self._user(request, self.service.settings.rate_domain_search_per_user, "domain_search")
        body: DomainSearchRequest = await _json_body(request, DomainSearchRequest)
        namecheap = self._selling()
        result = await run_in_threadpool(
            search,
            self.db,
            namecheap,
            body.query,
            years=body.years,
            rate=self.settings.usd_kwd_rate,
            margin=self.settings.margin,
        )
        for row in result["results"]:
            if row["price_kwd"] is not None:
                row["price_kwd"] = f"{row['price_kwd']:.3f}"
        log.info("domain search", extra={"user_id": claims.sub, "names": len(result["results"])})
        return JSONResponse(result)

    # ------------------------------------------------------------------ checkout and renewal

    async def checkout(self, request: Request) -> Response:
        claims = await self._user(request, self.service.settings.rate_checkout_per_user, "checkout")
        body: DomainCheckoutRequest = await _json_body(request, DomainCheckoutRequest)
        key = self._key(request)
        namecheap = self._selling()
        view, created = await run_in_threadpool(self._checkout, claims, body, key, namecheap)
        return JSONResponse(view, status_code=201 if created else 200)

    def _checkout(
        self, claims: Claims, body: DomainCheckoutRequest, key: str, namecheap: NamecheapClient
    ) -> tuple[dict[str, Any], bool]:
        name: DomainName = _name(parse, body.fqdn)
        _, host, _ = _name(parse_host, body.fqdn)
        if host != name.fqdn:
            raise ServiceError("DOM_002", f"buy the registrable name {name.fqdn}, then connect its subdomains")
        # Availability is asked again now (not from the 60 s cache): money follows this answer.
        refresh(self.db, namecheap, [name], force=[name.fqdn])
        payment = self.db.call_in(
            "domains",
            "create_checkout",
            p_user=claims.sub,
            p_project=str(body.project_id),
            p_fqdn=name.fqdn,
            p_unicode=name.unicode,
            p_tld=name.tld,
            p_years=body.years,
            p_rate=self.settings.usd_kwd_rate,
            p_margin=self.settings.margin,
            p_key=key,
        )
        return self._charge(claims, payment, body.language, body.payment_method, "domain")

    async def renew(self, request: Request) -> Response:
        claims = await self._user(request, self.service.settings.rate_checkout_per_user, "checkout")
        body: DomainRenewRequest = await _json_body(request, DomainRenewRequest)
        key = self._key(request)
        namecheap = self._selling()
        view, created = await run_in_threadpool(self._renew, claims, body, key, namecheap)
        return JSONResponse(view, status_code=201 if created else 200)

    def _renew(
        self, claims: Claims, body: DomainRenewRequest, key: str, namecheap: NamecheapClient
    ) -> tuple[dict[str, Any], bool]:
        _, host, _ = _name(parse_host, body.fqdn)
        state = self.db.call_in("domains", "renewal_state", p_user=claims.sub, p_fqdn=host, p_years=body.years)
        if state["pricing_stale"]:
            refresh_prices(self.db, namecheap, "renew")
        payment = self.db.call_in(
            "domains",
            "create_renewal_checkout",
            p_user=claims.sub,
            p_fqdn=host,
            p_years=body.years,
            p_rate=self.settings.usd_kwd_rate,
            p_margin=self.settings.margin,
            p_key=key,
        )
        return self._charge(claims, payment, body.language, body.payment_method, "domain renewal")

    def _charge(
        self, claims: Claims, payment: dict[str, Any], language: str, method: str | None, what: str
    ) -> tuple[dict[str, Any], bool]:
        quote = payment["quote"]
        years = quote["years"]
        charged = self.service.charge(
            claims,
            payment,
            description=f"KWq8 {what} {quote['unicode']} ({years} year{'s' if years > 1 else ''})",
            language=language,
            payment_method=method,
        )
        if not payment["replay"]:
            log.info(
                "domain checkout created",
                extra={"order_id": payment["order_id"], "user_id": claims.sub, "fqdn": quote["fqdn"], "what": what},
            )
        return self._payment_view(charged, quote), not payment["replay"]

    # ------------------------------------------------------------------ bring your own domain

    async def connect(self, request: Request) -> Response:
        claims = await self._user(request, self.service.settings.rate_checkout_per_user, "domain_connect")
        body: DomainConnectRequest = await _json_body(request, DomainConnectRequest)
        vercel = self._connecting()
        result = await run_in_threadpool(self._connect, claims, body, vercel)
        return JSONResponse(result, status_code=201)

    def _connect(self, claims: Claims, body: DomainConnectRequest, vercel: VercelClient) -> dict[str, Any]:
        registrable, host, unicode_host = _name(parse_host, body.fqdn)
        project = str(body.project_id)
        self.db.call_in("domains", "check_connect", p_user=claims.sub, p_project=project, p_fqdn=host)
        try:
            try:
                added = vercel.add_domain(host)
            except VercelError as exc:
                if exc.status_code != 400 or exc.code != "domain_already_exists":
                    raise
                # On the project already but on no KWq8 site (a removal cut short): take it over.
                added = vercel.get_domain(host)
            config = vercel.get_config(host)
        except VercelError as exc:
            log.warning("vercel refused a domain", extra={"fqdn": host, "status_code": exc.status_code})
            raise vercel_error(exc) from None
        site = (
            {"type": "A", "name": host, "value": config.ipv4}
            if host == registrable.fqdn
            else {"type": "CNAME", "name": host, "value": config.cname}
        )
        records = [*added.owner_records(), site]
        result: dict[str, Any] = self.db.call_in(
            "domains",
            "connect_domain",
            p_user=claims.sub,
            p_project=project,
            p_fqdn=host,
            p_unicode=unicode_host,
            p_records=records,
            p_verified=added.verified and not config.misconfigured,
        )
        log.info("domain connected", extra={"fqdn": host, "user_id": claims.sub, "verified": added.verified})
        return result

    # ------------------------------------------------------------------ status, move, remove

    def _host(self, request: Request) -> str:
        _, host, _ = _name(parse_host, unquote(request.path_params["fqdn"]))
        return str(host)

    async def status(self, request: Request) -> Response:
        claims = await self._user(request)
        host = self._host(request)
        result = await run_in_threadpool(self.db.call_in, "domains", "domain_status", p_user=claims.sub, p_fqdn=host)
        return JSONResponse(result)

    async def move(self, request: Request) -> Response:
        claims = await self._user(request, self.service.settings.rate_checkout_per_user, "domain_connect")
        body: DomainMoveRequest = await _json_body(request, DomainMoveRequest)
        _, host, _ = _name(parse_host, body.fqdn)
        result = await run_in_threadpool(
            self.db.call_in, "domains", "move_domain", p_user=claims.sub, p_fqdn=host, p_project=str(body.project_id)
        )
        return JSONResponse(result)

    async def remove(self, request: Request) -> Response:
        claims = await self._user(request, self.service.settings.rate_checkout_per_user, "domain_connect")
        host = self._host(request)
        vercel = self._connecting()
        result = await run_in_threadpool(self._remove, claims, host, vercel)
        return JSONResponse(result)

    def _remove(self, claims: Claims, host: str, vercel: VercelClient) -> dict[str, Any]:
        # The owner's domain (DOM_014 for anyone else's) before anything is removed at Vercel.
        self.db.call_in("domains", "domain_status", p_user=claims.sub, p_fqdn=host)
        try:
            vercel.remove_domain(host)
        except VercelError as exc:
            log.warning("vercel removal failed", extra={"fqdn": host, "status_code": exc.status_code})
            raise vercel_error(exc) from None
        result: dict[str, Any] = self.db.call_in("domains", "remove_domain", p_user=claims.sub, p_fqdn=host)
        log.info("domain removed", extra={"fqdn": host, "user_id": claims.sub})
        return result


async def _json_body(request: Request, model: type[Any]) -> Any:
    return parse_json_body(await request.body(), request.headers.get("content-type", ""), model)
