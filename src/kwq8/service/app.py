"""The billing service: an ASGI app (Starlette) in front of the payment functions in Postgres.

Routes
  POST /billing/checkout              {plan | credit_pack, payment_method?, language?}  (Supabase JWT)
  GET  /billing/checkout/preview?plan=P  what a checkout for plan P would cost now; creates nothing
  GET  /billing/payments/{order_id}   the caller's payment; a pending one is re-checked with
                                      UPayments and confirmed when captured    (Supabase JWT)
  POST /billing/subscription/cancel   {cancel: true|false}: do not renew      (Supabase JWT)
  POST /billing/subscription/change   {plan}: downgrade at the period end      (Supabase JWT)
  POST /billing/webhooks/upayments    UPayments notifications (X-Signature when configured)
  GET  /healthz                       liveness
  GET  /readyz                        readiness: the database pool answers, UPayments is configured
  /domains/...                        search, checkout, renew, connect, move, status, remove
                                      (service/domain_routes.py)

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
from kwq8.service.domain_routes import DomainRoutes
from kwq8.service.errors import ErrorCatalogue, ServiceError
from kwq8.service.jwt_auth import AUTH_EXPIRED, AUTH_UNAVAILABLE, AuthError, Claims, JwtVerifier
from kwq8.service.models import (
    FORBIDDEN_CHARACTERS,
    ORDER_ID,
    PLAN,
    CancelRequest,
    CheckoutRequest,
    PlanChangeRequest,
    notification_payload,
    parse_json_body,
    parse_notification,
)
from kwq8.service.ratelimit import LocalLimiter, RateLimiter, client_ip
from kwq8.service.redact import redact
from kwq8.service.server import LogThrottle

log = logging.getLogger("kwq8.service")

PROVIDER = "upayments"
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
_ORDER_RE = re.compile(ORDER_ID)


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
        self.reset_local_state()
        self.catalogue = ErrorCatalogue(self.db.error_catalogue)
        self.domains = DomainRoutes(self)

    def reset_local_state(self) -> None:
        """Forget what this instance keeps in memory (its rejected-webhook counters and log
        throttle); what Postgres keeps is shared and stays."""
        # Webhooks that fail verification are counted here, in memory: they must cost nothing,
        # not even a write of a counter to Postgres.
        self.rejected_webhooks = LocalLimiter(self.settings.rate_rejected_webhooks_per_ip, self.settings.rate_window_s)
        self.throttle = LogThrottle(log)

    def close(self) -> None:
        self.domains.close()
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
        if claims.role != "authenticated" or not _UUID_RE.fullmatch(claims.sub):
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

    def _view(self, payment: dict[str, Any]) -> dict[str, Any]:
        view: dict[str, Any] = {
            "order_id": payment["order_id"],
            "status": payment["status"],
            "plan": payment["plan"],
            "credit_pack": payment.get("credit_pack"),
            "kind": payment["kind"],
            "amount_kwd": _kwd(payment["amount_kwd"]),
            "currency": payment["currency"],
            "payment_method": payment["payment_method"],
            "payment_url": payment["payment_url"] if payment["status"] == "pending" else None,
            "fulfilment": payment["fulfilment"],
            "credits_granted": None if payment["credits_granted"] is None else str(payment["credits_granted"]),
            "failure_reason": _failure_reason(payment),
        }
        # A failed (declined) payment carries PAY_001 as the error body every endpoint answers
        # with, so the return page shows its Arabic message through the same toKwq8Error.
        view["error"] = None
        if payment["status"] == "failed":
            entry = self.catalogue.get("PAY_001")
            view["error"] = {
                "code": "PAY_001",
                "message": entry.message_ar,
                "details": f"{entry.message_en}: UPayments did not capture the payment",
                "hint": "start a new checkout",
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
        body: CheckoutRequest = await _json_body(request, CheckoutRequest)
        # Without the client's key a derived one: the SQL then treats a second checkout for the
        # same purchase within payments.settings.checkout_dedup_window as the first (a double click).
        key = request.headers.get("idempotency-key") or f"auto:{uuid.uuid4()}"
        if not _KEY_RE.fullmatch(key):
            raise ServiceError("VAL_001", "Idempotency-Key must be 1-255 printable ASCII characters")
        payment, created = await run_in_threadpool(self._checkout, claims, body, key)
        return JSONResponse(self._view(payment), status_code=201 if created else 200)

    def _checkout(self, claims: Claims, body: CheckoutRequest, key: str) -> tuple[dict[str, Any], bool]:
        if body.credit_pack is not None:
            payment = self.db.call(
                "create_pack_checkout",
                user_id=claims.sub,
                credit_pack=body.credit_pack,
                payment_method=body.payment_method,
                idempotency_key=key,
            )
            description = f"KWq8 credit pack {body.credit_pack}"
        else:
            payment = self.db.call(
                "create_checkout",
                user_id=claims.sub,
                plan=body.plan,
                payment_method=body.payment_method,
                idempotency_key=key,
            )
            description = f"KWq8 {body.plan} plan ({payment['kind']})"
        created = not payment["replay"]
        payment = self.charge(
            claims,
            payment,
            description=description,
            language=body.language,
            payment_method=body.payment_method,
        )
        log.info(
            "checkout created",
            extra={
                "order_id": payment["order_id"],
                "user_id": claims.sub,
                "plan": body.plan or body.credit_pack,
                "kind": payment["kind"],
            },
        )
        return payment, created

    def charge(
        self, claims: Claims, payment: dict[str, Any], *, description: str, language: str, payment_method: str | None
    ) -> dict[str, Any]:
        """The UPayments charge of a pending checkout (plan or domain): created once, its track id
        and link attached. A replay that already has its link is answered as it is. The call is
        claimed first (payments.begin_charge, committed): a retry while it runs answers PAY_005,
        and a checkout whose call ended without a link is closed (PAY_012), never charged twice."""
        order_id = payment["order_id"]
        if payment["status"] != "pending" or payment["payment_url"]:
            return payment  # a retry: the same answer, no second charge
        begun: dict[str, Any] = self.db.call_in("payments", "begin_charge", p_order_id=order_id)
        step = begun.pop("charge")
        if step == "done":
            return {**payment, **begun}
        if step == "in_flight":
            raise ServiceError(
                "PAY_005",
                "the charge of this checkout is being created",
                "try again in a few seconds",
                headers={"Retry-After": "5"},
            )
        if step == "lost":
            log.warning("checkout closed: its charge was created without an answer", extra={"order_id": order_id})
            raise ServiceError(
                "PAY_012",
                "the UPayments charge of this checkout was created without an answer",
                "start a new checkout (a new Idempotency-Key)",
            )
        try:
            charge = self.upayments.create_charge(
                order_id=order_id,
                amount=Decimal(payment["amount_kwd"]),
                description=description,
                language=language,
                return_url=_with_order(self.settings.return_url, order_id),
                cancel_url=_with_order(self.settings.cancel_url, order_id),
                notification_url=self.settings.notification_url,
                payment_method=payment_method,
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
                "start a new checkout: this one is not charged again",
                status=503 if exc.retryable else 502,
            ) from None
        if not charge.track_id:
            log.warning("upayments charge without a track id", extra={"order_id": order_id})
            return {**payment, "payment_url": charge.link}
        attached: dict[str, Any] = self.db.call(
            "attach_checkout_charge", order_id=order_id, track_id=charge.track_id, payment_url=charge.link
        )
        return attached

    # ------------------------------------------------------------------ payment status

    async def payment_status(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        claims = await run_in_threadpool(self._user, request)
        if not _ORDER_RE.fullmatch(order_id):
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
        if self.settings.status_fresh_s and not self._first_check_of_window(order_id):
            return payment  # asked a moment ago (by any user or instance): the answer stands
        try:
            self._take_status_call("user")
        except ServiceError:
            return payment  # the webhook or the reconciliation job settles it
        try:
            status = self.upayments.get_payment_status(payment["track_id"])
        except UPaymentsError as exc:
            log.warning("upayments status failed", extra={"order_id": order_id, "error_kind": exc.kind})
            return payment
        # Whatever UPayments answered is recorded as the reconciliation job records it: a capture
        # is fulfilled (or kept for review when it does not match the order), a decline fails
        # the payment and a cancellation cancels it, so the return page never waits on a
        # webhook that may not come. A pending answer changes nothing.
        result = self.db.call("record_status_check", order_id=order_id, verified=status.as_verified())
        if result["outcome"] != "pending":
            log.info(
                "payment settled by the return page's status check",
                extra={"order_id": order_id, "outcome": result["outcome"]},
            )
        return dict(result["payment"])

    def _first_check_of_window(self, order_id: str) -> bool:
        """Whether this refresh is the first of the payment's KWQ8_STATUS_FRESH_S window: only
        that one may ask UPayments, however many tabs, users or instances refresh."""
        window = self.settings.status_fresh_s
        hit = self.db.call("hit_rate_limit", bucket=f"status:{order_id}", max_hits=1, window_seconds=window)
        return bool(hit["allowed"])

    # ------------------------------------------------------------------ cancel at period end

    async def cancel(self, request: Request) -> Response:
        claims = await run_in_threadpool(self._user, request, self.settings.rate_checkout_per_user, "subscription")
        body: CancelRequest = await _json_body(request, CancelRequest)
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

    # ------------------------------------------------------------------ plan changes

    async def preview(self, request: Request) -> Response:
        claims = await run_in_threadpool(self._user, request)
        plan = request.query_params.get("plan", "")
        if not re.fullmatch(PLAN, plan):
            raise ServiceError("VAL_001", "plan must be a plan code")
        quote = await run_in_threadpool(self.db.call, "preview_checkout", user_id=claims.sub, plan=plan)
        view = {
            "plan": quote["plan"],
            "kind": quote["kind"],
            "amount_kwd": _kwd(quote["amount_kwd"]),
            "currency": "KWD",
        }
        if quote.get("proration"):
            proration = quote["proration"]
            view["proration"] = {
                "from_plan": proration["from_plan"],
                "period_end": proration["period_end"],
                "fraction": str(proration["fraction"]),
                "credits": str(proration["credits"]),
            }
        return JSONResponse(view)

    async def change(self, request: Request) -> Response:
        claims = await run_in_threadpool(self._user, request, self.settings.rate_checkout_per_user, "subscription")
        body: PlanChangeRequest = await _json_body(request, PlanChangeRequest)
        result = await run_in_threadpool(self.db.call, "schedule_plan_change", user_id=claims.sub, plan=body.plan)
        return JSONResponse(result)

    # ------------------------------------------------------------------ webhooks

    def _reject_webhook(self, ip: str, reason: str, hint: str | None = None) -> ServiceError:
        """A webhook that failed verification: counted per IP (in memory), logged once per
        interval, answered PAY_006. The provider is never asked about it."""
        self.rejected_webhooks.hit(ip)
        self.throttle.warn("webhook-rejected", "webhook rejected", reason=reason, client_ip=ip)
        return ServiceError("PAY_006", reason, hint)

    async def webhook(self, request: Request) -> Response:
        ip = self._ip(request)
        retry_after = self.rejected_webhooks.retry_after(ip)
        if retry_after is not None:
            # This address keeps sending webhooks that fail verification: refused unread.
            self.throttle.warn("webhook-rate-limited", "webhooks refused: too many rejected", client_ip=ip)
            raise ServiceError(
                "RATE_001",
                "too many webhooks that failed verification",
                f"retry after {retry_after} seconds",
                headers={"Retry-After": str(retry_after)},
            )
        raw = await request.body()
        secret = self.settings.webhook_secret
        verified_sender = bool(secret)
        if not secret:
            # Unsigned webhooks only where the sandbox configuration explicitly allows them
            # (ServiceSettings refuses that combination in production).
            if not (self.settings.allow_unsigned_webhooks and self.settings.environment == "sandbox"):
                raise self._reject_webhook(ip, "webhooks must be signed", "configure UPAYMENTS_WEBHOOK_SECRET")
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
                raise self._reject_webhook(ip, exc.reason) from None
        # Parsed and validated before anything is written, the rate counter included. Only the
        # signed body counts: the query string is not covered by the signature.
        payload = notification_payload(raw, request.headers.get("content-type", ""))
        notification = parse_notification(payload)
        await run_in_threadpool(self.limiter.check, f"webhook:{ip}", self.settings.rate_webhook_per_ip)
        answer, status_code = await run_in_threadpool(self._notification, notification, payload, verified_sender)
        return JSONResponse(answer, status_code=status_code)

    def _notification(self, note: Any, payload: dict[str, Any], signed: bool) -> tuple[dict[str, Any], int]:
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
            # An unsigned notification (sandbox, explicitly allowed) could come from anybody:
            # it waits behind genuine ones and the reconciliation job for the budget.
            self._take_status_call("webhook" if signed else "user")
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
        body = {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "webhooks": webhooks,
            "domains": self.domains.configured(),
        }
        return JSONResponse(body, 200 if ready else 503)


def _failure_reason(payment: dict[str, Any]) -> str | None:
    """Why a payment failed or was cancelled, for code to branch on: UPayments' result in snake
    case ('not_captured', 'canceled', 'error', ...), or 'abandoned' for a checkout never paid."""
    if payment["status"] not in ("failed", "cancelled"):
        return None
    reason = payment.get("status_reason") or ""
    if reason.startswith("abandoned"):
        return "abandoned"
    result = reason.removeprefix("UPayments: ") if reason.startswith("UPayments: ") else ""
    return re.sub(r"[^a-z0-9]+", "_", result.lower()).strip("_") or "unknown"


async def _json_body(request: Request, model: type[Any]) -> Any:
    return parse_json_body(await request.body(), request.headers.get("content-type", ""), model)


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


# The documented cap on a request head: request line and header lines together, and a count.
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADERS = 100


class HeaderLimitMiddleware:
    """Refuse a request head over MAX_HEADER_BYTES or MAX_HEADERS with REQ_016 (431) and close
    the connection. The server bounds a head while it arrives (server.py); a head that arrives
    in one piece is only measured here."""

    def __init__(self, app: ASGIApp, service: BillingService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
            size += sum(len(name) + len(value) + 4 for name, value in headers)
            if len(headers) > MAX_HEADERS or size > MAX_HEADER_BYTES:
                error = ServiceError(
                    "REQ_016", f"the request head must be at most {MAX_HEADER_BYTES} bytes in {MAX_HEADERS} headers"
                )
                response = await run_in_threadpool(self.service.catalogue.response, error)
                response.headers["Connection"] = "close"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class CorsMiddleware:
    """Cross-origin access for the site's pages (the billing service lives on another origin):
    origins from KWQ8_ALLOWED_ORIGINS only, matched exactly. Bearer tokens, not cookies,
    authenticate, so credentials are never allowed. A preflight from an allowed origin for an
    allowed method and headers answers 204; any other preflight 403 REQ_017 without CORS headers,
    which the browser reports as a network error. Answers to allowed origins (errors included)
    carry Access-Control-Allow-Origin; others carry none, so their pages cannot read them.
    Webhooks are not for browsers and get no CORS answer."""

    METHODS = ("GET", "POST")
    HEADERS = frozenset({"authorization", "content-type", "idempotency-key"})
    EXPOSED = "Retry-After, X-Request-Id"
    MAX_AGE_S = 600

    def __init__(self, app: ASGIApp, service: BillingService) -> None:
        self.app = app
        self.service = service
        self.origins = frozenset(service.settings.allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == WEBHOOK_PATH:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if scope["method"] == "OPTIONS" and origin is not None and "access-control-request-method" in headers:
            await self._preflight(origin, headers, scope, receive, send)
            return
        if origin is None or origin not in self.origins:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-expose-headers", self.EXPOSED.encode()),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, origin: str, headers: Headers, scope: Scope, receive: Receive, send: Send) -> None:
        method = headers["access-control-request-method"].strip()
        asked = {h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()}
        if origin not in self.origins or method not in self.METHODS or not asked <= self.HEADERS:
            error = ServiceError("REQ_017", "this origin, method or header is not allowed for cross-origin calls")
            response = await run_in_threadpool(self.service.catalogue.response, error)
            response.headers["Vary"] = "Origin"
            await response(scope, receive, send)
            return
        response = Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ", ".join(self.METHODS),
                "Access-Control-Allow-Headers": ", ".join(sorted(self.HEADERS)),
                "Access-Control-Max-Age": str(self.MAX_AGE_S),
                "Vary": "Origin",
            },
        )
        await response(scope, receive, send)


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
            Route("/billing/subscription/change", service.change, methods=["POST"]),
            Route("/billing/checkout/preview", service.preview, methods=["GET"]),
            Route(WEBHOOK_PATH, service.webhook, methods=["POST"]),
            *service.domains.routes(),
        ],
        middleware=[
            Middleware(RequestLogMiddleware, service=service),
            # Outside every refusal, so that an allowed page can read them all.
            Middleware(CorsMiddleware, service=service),
            Middleware(HeaderLimitMiddleware, service=service),
            Middleware(BodyLimitMiddleware, service=service),
            # Inside the body limit, which has read the body: a refusal is then readable too.
            Middleware(ControlCharacterMiddleware, service=service),
        ],
        exception_handlers={ServiceError: service_error, HTTPException: http_error, Exception: unexpected},
        lifespan=lifespan,
    )
    # "/healthz/" would otherwise be redirected to an absolute URL built from the Host header.
    app.router.redirect_slashes = False
    app.state.service = service
    return app
