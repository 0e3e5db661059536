"""The billing service: an ASGI app (Starlette) in front of the payment functions in Postgres.

Routes
  POST /billing/checkout              {plan, payment_method?, language?}  (Supabase JWT)
  GET  /billing/payments/{order_id}   the caller's payment; a pending one is re-checked with
                                      UPayments and confirmed when captured    (Supabase JWT)
  POST /billing/subscription/cancel   {cancel: true|false}: do not renew      (Supabase JWT)
  POST /billing/webhooks/upayments    UPayments notifications (X-Signature when configured)
  GET  /healthz                       liveness
  GET  /readyz                        readiness: the database pool answers, UPayments is configured

Every decision about money is made in SQL (functions/payments): the service authenticates,
validates, limits, talks to UPayments and passes on what UPayments answered. A webhook is never
believed: its signature is checked when a secret is configured, and the payment's status is
always fetched from get-payment-status/{track_id} before anything is granted. The SQL records
each notification once, so duplicates answer 200 and change nothing.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kwq8.payments.signature import SignatureError, verify_webhook
from kwq8.payments.upayments import UPaymentsClient, UPaymentsError
from kwq8.service.config import WEBHOOK_PATH, ServiceSettings
from kwq8.service.db import BillingDb
from kwq8.service.errors import ErrorCatalogue, ServiceError
from kwq8.service.jwt_auth import AUTH_EXPIRED, AUTH_UNAVAILABLE, AuthError, Claims, JwtVerifier
from kwq8.service.models import (
    FORBIDDEN_CHARACTERS,
    ORDER_ID_PATTERN,
    CancelRequest,
    CheckoutRequest,
    notification_payload,
    parse_json_body,
    parse_notification,
)
from kwq8.service.ratelimit import RateLimiter, client_ip
from kwq8.service.redact import redact

log = logging.getLogger("kwq8.service")

PROVIDER = "upayments"
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
_ORDER_RE = re.compile(ORDER_ID_PATTERN)


class BillingService:
    """The handlers and the resources they share (pool, UPayments client, token verifier)."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        db: BillingDb | None = None,
        upayments: UPaymentsClient | None = None,
        verifier: JwtVerifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.db = db or BillingDb(settings.db_url, role=settings.db_role, pool_size=settings.db_pool_size)
        self.db.open()
        self.upayments = upayments or UPaymentsClient(settings.upayments)
        self.verifier = verifier or JwtVerifier(
            hs256_secret=settings.jwt_secret, jwks_url=settings.jwks_url, issuer=settings.jwt_issuer
        )
        self.clock = clock
        self.limiter = RateLimiter(self.db, settings.rate_window_s)
        self.catalogue = ErrorCatalogue(self.db.error_catalogue)

    def close(self) -> None:
        self.upayments.close()
        self.verifier.close()
        self.db.close()

    # ------------------------------------------------------------------ plumbing

    def _ip(self, request: Request) -> str:
        peer = request.client.host if request.client else None
        return client_ip(peer, request.headers, self.settings.trusted_proxy_hops)

    def _authenticate(self, request: Request) -> Claims:
        header = request.headers.get("authorization", "")
        if not header:
            raise ServiceError("AUTH_004", "no Authorization header")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ServiceError("AUTH_005", "expected Authorization: Bearer <access token>")
        try:
            claims = self.verifier.verify(token.strip())
        except AuthError as exc:
            log.info("access token rejected", extra={"auth_code": exc.code, "reason": exc.reason})
            if exc.code == AUTH_EXPIRED:
                raise ServiceError("AUTH_003") from None
            if exc.code == AUTH_UNAVAILABLE:
                raise ServiceError("AUTH_006") from None
            raise ServiceError("AUTH_005") from None
        if claims.role != "authenticated" or not _UUID_RE.match(claims.sub):
            raise ServiceError("AUTH_005", "not a user's access token")
        if claims.raw.get("is_anonymous") is True:
            raise ServiceError("AUTH_004", "anonymous users cannot buy plans", "sign up first")
        return claims

    def _user(self, request: Request, per_user: int | None = None, purpose: str = "") -> Claims:
        """Per-IP limit, then the token, then (optionally) a per-user limit."""
        self.limiter.check(f"ip:{self._ip(request)}", self.settings.rate_ip_per_window)
        claims = self._authenticate(request)
        if per_user is not None:
            self.limiter.check(f"user:{claims.sub}:{purpose}", per_user)
        return claims

    @staticmethod
    def _view(payment: dict[str, Any]) -> dict[str, Any]:
        view = {
            "order_id": payment["order_id"],
            "status": payment["status"],
            "plan": payment["plan"],
            "kind": payment["kind"],
            "amount_kwd": _kwd(payment["amount_kwd"]),
            "currency": payment["currency"],
            "payment_method": payment["payment_method"],
            "payment_url": payment["payment_url"] if payment["status"] == "pending" else None,
            "fulfilment": payment["fulfilment"],
            "credits_granted": None if payment["credits_granted"] is None else str(payment["credits_granted"]),
        }
        if payment.get("proration"):
            proration = payment["proration"]
            view["proration"] = {
                "from_plan": proration["from_plan"],
                "period_end": proration["period_end"],
                "fraction": str(proration["fraction"]),
                "credits": str(proration["credits"]),
            }
        return view

    def _take_status_call(self, priority: str) -> None:
        """One call of get-payment-status from the merchant-wide budget in Postgres, or PAY_007."""
        taken = self.db.call("take_status_call", priority=priority)
        if not taken["allowed"]:
            retry_after = str(taken["retry_after"])
            log.warning("upayments status budget spent", extra={"priority": priority})
            raise ServiceError(
                "PAY_007",
                "the merchant-wide get-payment-status budget of this minute is spent",
                f"retry after {retry_after} seconds",
                headers={"Retry-After": retry_after},
            )

    # ------------------------------------------------------------------ checkout

    async def checkout(self, request: Request) -> Response:
        claims = await run_in_threadpool(self._user, request, self.settings.rate_checkout_per_user, "checkout")
        body: CheckoutRequest = parse_json_body(await request.body(), CheckoutRequest)
        key = request.headers.get("idempotency-key") or str(uuid.uuid4())
        if not _KEY_RE.match(key):
            raise ServiceError("VAL_001", "Idempotency-Key must be 1-255 printable ASCII characters")
        payment, created = await run_in_threadpool(self._checkout, claims, body, key)
        return JSONResponse(self._view(payment), status_code=201 if created else 200)

    def _checkout(self, claims: Claims, body: CheckoutRequest, key: str) -> tuple[dict[str, Any], bool]:
        payment = self.db.call(
            "create_checkout",
            user_id=claims.sub,
            plan=body.plan,
            payment_method=body.payment_method,
            idempotency_key=key,
        )
        order_id = payment["order_id"]
        created = not payment["replay"]
        if payment["status"] != "pending" or payment["payment_url"]:
            return payment, created  # a retry: the same answer, no second charge
        try:
            charge = self.upayments.create_charge(
                order_id=order_id,
                amount=Decimal(payment["amount_kwd"]),
                description=f"KWq8 {body.plan} plan ({payment['kind']})",
                language=body.language,
                return_url=_with_order(self.settings.return_url, order_id),
                cancel_url=_with_order(self.settings.cancel_url, order_id),
                notification_url=self.settings.notification_url,
                payment_method=body.payment_method,
                customer={"uniqueId": claims.sub, "email": claims.email},
                reference=order_id,
            )
        except UPaymentsError as exc:
            log.warning(
                "upayments charge failed",
                extra={"order_id": order_id, "error_kind": exc.kind, "status_code": exc.status_code},
            )
            # The provider's text is stored: whatever it holds must not break the write.
            error = FORBIDDEN_CHARACTERS.sub(" ", f"{exc.kind}: {exc.message}")
            self.db.call("record_checkout_error", order_id=order_id, error=error)
            raise ServiceError(
                "PAY_001",
                f"UPayments could not create the charge ({exc.kind})",
                "try again; the checkout stays pending",
                status=503 if exc.retryable else 502,
            ) from None
        if not charge.track_id:
            log.warning("upayments charge without a track id", extra={"order_id": order_id})
            payment = {**payment, "payment_url": charge.link}
        else:
            payment = self.db.call(
                "attach_checkout_charge", order_id=order_id, track_id=charge.track_id, payment_url=charge.link
            )
        log.info(
            "checkout created",
            extra={"order_id": order_id, "user_id": claims.sub, "plan": body.plan, "kind": payment["kind"]},
        )
        return payment, created

    # ------------------------------------------------------------------ payment status

    async def payment_status(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        claims = await run_in_threadpool(self._user, request)
        if not _ORDER_RE.match(order_id):
            raise ServiceError("PAY_002", "not an order id")
        payment = await run_in_threadpool(self._refresh, claims, order_id)
        return JSONResponse(self._view(payment))

    def _refresh(self, claims: Claims, order_id: str) -> dict[str, Any]:
        payment: dict[str, Any] = self.db.call("get_payment", order_id=order_id, user_id=claims.sub)
        if payment["status"] != "pending" or not payment["track_id"]:
            return payment
        # The customer is back from the payment page: ask UPayments rather than wait for the
        # webhook. Limited per user, as get-payment-status allows 30 calls a minute in all.
        self.limiter.check(f"user:{claims.sub}:status", self.settings.rate_status_per_user)
        try:
            self._take_status_call("user")
        except ServiceError:
            return payment  # the webhook or the reconciliation job settles it
        try:
            status = self.upayments.get_payment_status(payment["track_id"])
        except UPaymentsError as exc:
            log.warning("upayments status failed", extra={"order_id": order_id, "error_kind": exc.kind})
            return payment
        if status.confirms(order_id, Decimal(payment["amount_kwd"])):
            payment = self.db.call(
                "confirm_payment",
                order_id=order_id,
                track_id=payment["track_id"],
                provider_payment_id=status.payment_id,
                amount_kwd=status.amount,
                currency=status.currency,
            )
            log.info("payment confirmed by status check", extra={"order_id": order_id})
        return payment

    # ------------------------------------------------------------------ cancel at period end

    async def cancel(self, request: Request) -> Response:
        claims = await run_in_threadpool(self._user, request, self.settings.rate_checkout_per_user, "subscription")
        body: CancelRequest = parse_json_body(await request.body(), CancelRequest)
        result = await run_in_threadpool(
            self.db.call, "set_cancel_at_period_end", user_id=claims.sub, cancel=body.cancel
        )
        return JSONResponse(
            {
                "plan": result["plan"],
                "status": result["status"],
                "current_period_end": result["current_period_end"],
                "cancel_at_period_end": result["cancel_at_period_end"],
            }
        )

    # ------------------------------------------------------------------ webhooks

    async def webhook(self, request: Request) -> Response:
        raw = await request.body()
        secret = self.settings.webhook_secret
        if not secret:
            # Unsigned webhooks only where the sandbox configuration explicitly allows them
            # (ServiceSettings refuses that combination in production).
            if not (self.settings.allow_unsigned_webhooks and self.settings.environment == "sandbox"):
                log.warning("unsigned webhook refused: no secret configured", extra={"client_ip": self._ip(request)})
                raise ServiceError("PAY_006", "webhooks must be signed", "configure UPAYMENTS_WEBHOOK_SECRET")
        else:
            try:
                verify_webhook(
                    secret,
                    request.headers,
                    "POST",
                    self.settings.notification_url,
                    raw,
                    now=self.clock(),
                    tolerance_s=self.settings.webhook_tolerance_s,
                )
            except SignatureError as exc:
                # Nothing is read or written for an unsigned request: not even a rate counter.
                log.warning("webhook signature rejected", extra={"reason": exc.reason, "client_ip": self._ip(request)})
                raise ServiceError("PAY_006", exc.reason) from None
        # Parsed and validated before anything is written, the rate counter included. Only the
        # signed body counts: the query string is not covered by the signature.
        payload = notification_payload(raw, request.headers.get("content-type", ""))
        notification = parse_notification(payload)
        await run_in_threadpool(self.limiter.check, f"webhook:{self._ip(request)}", self.settings.rate_webhook_per_ip)
        answer, status_code = await run_in_threadpool(self._notification, notification, payload)
        return JSONResponse(answer, status_code=status_code)

    def _notification(self, note: Any, payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
        seen = self.db.call(
            "lookup_payment_event",
            provider=PROVIDER,
            track_id=note.track_id,
            result=note.result,
            order_id=note.claimed_order_id,
        )
        if seen["event_final"]:
            log.info("upayments notification already processed", extra={"track_id": note.track_id})
            return {"received": True, "duplicate": True, "outcome": seen["event_outcome"]}, 200
        if not seen["payment_known"]:
            raise ServiceError("PAY_002", "no payment for this track id or order id")
        verified: dict[str, Any] | None = None
        if seen["payment_status"] not in ("paid", "refunded", "needs_review"):
            self._take_status_call("webhook")
            try:
                status = self.upayments.get_payment_status(note.track_id)
            except ValueError as exc:
                raise ServiceError("VAL_001", "unusable track_id") from exc
            except UPaymentsError as exc:
                log.warning("upayments status failed", extra={"track_id": note.track_id, "error_kind": exc.kind})
                raise ServiceError(
                    "PAY_005", f"get-payment-status failed ({exc.kind})", "deliver the notification again later"
                ) from None
            verified = status.as_verified()
        result = self.db.call(
            "record_payment_event",
            provider=PROVIDER,
            track_id=note.track_id,
            notified_result=note.result,
            verified=verified,
            payload=redact(payload),  # here, off the event loop: it reads every field
        )
        outcome = result["outcome"]
        extra = {
            "order_id": result["payment"]["order_id"],
            "track_id": note.track_id,
            "outcome": outcome,
            "duplicate": result["duplicate"],
            "status_disagrees": result["status_disagrees"],
            "notified_result": note.result,
            "verified_result": verified["result"] if verified else None,
        }
        if outcome in ("mismatch", "needs_review") or result["status_disagrees"]:
            log.warning("upayments notification needs attention", extra=extra)
        else:
            log.info("upayments notification processed", extra=extra)
        answer = {"received": True, "duplicate": result["duplicate"], "outcome": outcome}
        if outcome == "pending" and result["status_disagrees"]:
            # The webhook announced a settled payment UPayments does not confirm yet: ask for a
            # redelivery, which is checked again (the event is not final).
            return {**answer, "retry": True}, 503
        return answer, 200

    # ------------------------------------------------------------------ health

    async def health(self, request: Request) -> Response:
        """Liveness: the process serves requests. Says nothing about the database."""
        return JSONResponse({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        """Readiness: the pool answers and the payment provider is configured; 503 otherwise,
        so a load balancer stops sending traffic to an instance that would fail every call."""
        checks: dict[str, str] = {}
        try:
            await run_in_threadpool(self.db.ready)
            checks["database"] = "ok"
        except Exception as exc:  # any failure means "not ready"; the kind is enough to act on
            checks["database"] = f"unavailable ({type(exc).__name__})"
        upayments = self.settings.upayments
        checks["upayments"] = "ok" if upayments.api_key and upayments.base_url else "not configured"
        if self.settings.webhook_secret or upayments.api_secret:
            webhooks = "signature checked"
        else:
            webhooks = "unsigned accepted" if self.settings.allow_unsigned_webhooks else "refused: no secret configured"
        ready = all(v == "ok" for v in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks, "webhooks": webhooks}
        return JSONResponse(body, 200 if ready else 503)


def _kwd(value: Any) -> str:
    return format(Decimal(str(value)).quantize(Decimal("0.001")), "f")


def _with_order(url: str, order_id: str) -> str:
    return str(httpx.URL(url).copy_merge_params({"order_id": order_id}))


# ---------------------------------------------------------------------- middleware


class RequestLogMiddleware:
    """One structured line per request (method, path without query, status, duration, client)."""

    def __init__(self, app: ASGIApp, service: BillingService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            client = scope.get("client")
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "client_ip": client_ip(
                        client[0] if client else None,
                        Headers(scope=scope),
                        self.service.settings.trusted_proxy_hops,
                    ),
                },
            )


class ControlCharacterMiddleware:
    """Refuse a path or query string with a control character (VAL_002, models.FORBIDDEN_CHARACTERS)
    before any route runs: percent-encoded, they would otherwise reach handlers, logs and the
    database. Bodies are checked where they are parsed (models.py)."""

    def __init__(self, app: ASGIApp, service: BillingService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = unquote_plus(scope.get("query_string", b"").decode("latin-1"), errors="replace")
            if FORBIDDEN_CHARACTERS.search(scope["path"]) or FORBIDDEN_CHARACTERS.search(query):
                error = ServiceError("VAL_002", "the path or query string contains a control character")
                response = await run_in_threadpool(self.service.catalogue.response, error)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# An oversized body is still read (and dropped) up to this many bytes before the 413: most HTTP
# clients write the whole body before they read an answer, and would see a broken pipe instead.
# Beyond it, the answer goes out at once and the connection closes.
DRAIN_BYTES = 4 * 1024 * 1024


class BodyLimitMiddleware:
    """Refuse bodies over the limit with REQ_001 (413) before the app sees them: by the declared
    Content-Length, or while buffering the body (chunked uploads). The refused body is drained
    (up to DRAIN_BYTES) so that the client reads the answer."""

    def __init__(self, app: ASGIApp, service: BillingService) -> None:
        self.app = app
        self.service = service

    def _limit(self, path: str) -> int:
        settings = self.service.settings
        return settings.max_webhook_bytes if path == WEBHOOK_PATH else settings.max_body_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int, more: bool, read: int) -> None:
        """Answer 413 once the rest of the body is drained (``more``: the client is still sending;
        ``read``: bytes taken so far), or at once, closing, when it would exceed DRAIN_BYTES."""
        declared = Headers(scope=scope).get("content-length")
        drainable = declared is None or (declared.isdigit() and int(declared) <= DRAIN_BYTES)
        while more and drainable:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            more = message.get("more_body", False)
            drainable = read <= DRAIN_BYTES
        error = ServiceError("REQ_001", f"the body must be at most {limit} bytes")
        response = await run_in_threadpool(self.service.catalogue.response, error)
        if more:
            response.headers["Connection"] = "close"
        await response(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit, more=True, read=0)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, limit, more=message.get("more_body", False), read=size)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# ---------------------------------------------------------------------- the app


def create_app(
    settings: ServiceSettings,
    *,
    db: BillingDb | None = None,
    upayments: UPaymentsClient | None = None,
    verifier: JwtVerifier | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The ASGI app. Resources open here (the pool connects in the background); call
    ``app.state.service.close()`` (or use the lifespan, as uvicorn does) to release them."""
    service = BillingService(settings, db=db, upayments=upayments, verifier=verifier, clock=clock)

    async def service_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ServiceError)
        return await run_in_threadpool(service.catalogue.response, exc)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = {404: "REQ_002", 405: "REQ_003", 413: "REQ_001"}.get(exc.status_code, "SYS_001")
        return await run_in_threadpool(service.catalogue.response, ServiceError(code, status=exc.status_code))

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unhandled error", exc_info=exc)
        return await run_in_threadpool(service.catalogue.response, ServiceError("SYS_001"))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            service.close()

    app = Starlette(
        routes=[
            Route("/healthz", service.health, methods=["GET"]),
            Route("/readyz", service.ready, methods=["GET"]),
            Route("/billing/checkout", service.checkout, methods=["POST"]),
            Route("/billing/payments/{order_id}", service.payment_status, methods=["GET"]),
            Route("/billing/subscription/cancel", service.cancel, methods=["POST"]),
            Route(WEBHOOK_PATH, service.webhook, methods=["POST"]),
        ],
        middleware=[
            Middleware(RequestLogMiddleware, service=service),
            Middleware(BodyLimitMiddleware, service=service),
            # Inside the body limit, which has read the body: a refusal is then readable too.
            Middleware(ControlCharacterMiddleware, service=service),
        ],
        exception_handlers={ServiceError: service_error, HTTPException: http_error, Exception: unexpected},
        lifespan=lifespan,
    )
    app.state.service = service
    return app
