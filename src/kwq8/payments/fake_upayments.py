"""A local fake of the UPayments v2 API for tests, served by uvicorn on 127.0.0.1.

It follows the documented wire format (payments_domains.md §1): ``POST /api/v1/charge`` and
``GET /api/v1/get-payment-status/{track_id}`` behind ``Authorization: Bearer <key>``, answering
the ``{"status", "message", "data"}`` envelope. Tests steer it: the outcome of a track id, faults
on the next N calls of a route (HTTP status, slow answer, HTML instead of JSON, ``status:
false``), optional HMAC request-signature enforcement, and signed webhook deliveries.

Where UPayments' behaviour is undocumented the fake makes a plain choice (validation failures
answer HTTP 400 with ``status: false``; an unknown track id answers 404; a new charge's result is
``PENDING``); tests should not treat those choices as facts about the real service.

:class:`LocalServer` is reusable for any ASGI app that a test needs on a real socket.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

FakeRoute = Literal["charge", "status", "refund"]
_ROUTES = ("charge", "status", "refund")
_GATEWAYS = frozenset({"knet", "cc", "samsung-pay", "apple-pay", "apple-pay-knet", "google-pay", "create-invoice"})
_SIGNATURE_TOLERANCE_S = 300


class LocalServer:
    """Serve an ASGI app with uvicorn in a daemon thread on 127.0.0.1 and a free port.

    The socket is bound before the thread starts, so the port is known and nothing can take it
    in between. ``port=0`` picks a free port; a fixed one lets a test bring a server up on an
    address a client is already retrying. Startup waits at most ``startup_timeout_s``; shutdown is bounded as well.
    ``server_factory`` builds another uvicorn.Server for the app (the billing service's guarded one).
    """

    def __init__(
        self,
        app: Any,
        *,
        port: int = 0,
        startup_timeout_s: float = 5.0,
        server_factory: Callable[[Any], uvicorn.Server] | None = None,
    ) -> None:
        self._app = app
        self._server_factory = server_factory
        self._requested_port = port
        self._startup_timeout_s = startup_timeout_s
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        if not self.port:
            raise RuntimeError("server is not running")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalServer:
        # proto=IPPROTO_TCP lets asyncio enable TCP_NODELAY on accepted connections (it checks
        # sock.proto); without it every keep-alive answer waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._requested_port))
        if self._server_factory is not None:
            server = self._server_factory(self._app)
        else:
            config = uvicorn.Config(
                self._app,
                log_config=None,  # leave the test process's logging configuration alone
                log_level="warning",
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
            server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="kwq8-local-server", daemon=True)
        self._socket, self._server, self._thread = sock, server, thread
        self.port = sock.getsockname()[1]
        thread.start()
        deadline = time.monotonic() + self._startup_timeout_s
        while not server.started:
            if not thread.is_alive():
                self.stop()
                raise RuntimeError("local server thread exited during startup")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"local server not ready after {self._startup_timeout_s}s")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.port = 0

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class RecordedRequest:
    route: str
    method: str
    path: str  # raw, still percent-encoded
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body, parse_float=Decimal)


@dataclass
class _Fault:
    kind: Literal["status", "timeout", "html", "reject"]
    status_code: int = 500
    delay_s: float = 0.0
    message: str = ""


@dataclass
class _Transaction:
    track_id: str
    order_id: str
    reference: str | None
    amount: Decimal
    currency: str
    notification_url: str | None
    payment_method: str | None
    result: str
    payment_id: str = field(default_factory=lambda: "1" + "".join(secrets.choice("0123456789") for _ in range(17)))
    tran_id: str = field(default_factory=lambda: str(secrets.randbelow(10**15)).zfill(15))
    extra: dict[str, Any] = field(default_factory=dict)
    refunded: Decimal = Decimal(0)


@dataclass(frozen=True)
class WebhookDelivery:
    url: str
    headers: dict[str, str]
    body: bytes


def hmac_b64(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _dumps(value: Any) -> str:
    # Like json.dumps, but Decimals become exact JSON numbers (as UPayments amounts may be).
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    return json.dumps(value)


def _json_response(payload: dict[str, Any], status_code: int = 200) -> Response:
    return Response(_dumps(payload), status_code=status_code, media_type="application/json")


def _envelope_error(message: str, status_code: int, errors: list[str] | None = None) -> Response:
    payload: dict[str, Any] = {"status": False, "message": message}
    if errors:
        payload["errors"] = errors
    return _json_response(payload, status_code)


class FakeUPayments:
    """The fake UPayments API. Use as a context manager; ``base_url`` ends with ``/api/v1/``.

    ``amount_format`` chooses how ``total_price`` is written in status answers: a JSON
    ``"number"`` (``23.000``) or a ``"string"`` (``"23.000"``); the real format is undocumented.
    """

    def __init__(
        self,
        api_key: str = "test-upayments-key",
        *,
        signature_secret: str | None = None,
        default_result: str = "PENDING",
        amount_format: Literal["number", "string"] = "number",
        port: int = 0,
        startup_timeout_s: float = 5.0,
    ) -> None:
        self.api_key = api_key
        self.signature_secret = signature_secret
        self.default_result = default_result
        self.amount_format = amount_format
        self._initial_signature_secret = signature_secret
        self._initial_default_result = default_result
        self._initial_amount_format = amount_format
        self.requests: list[RecordedRequest] = []
        self.signature_failures: list[str] = []
        self._transactions: dict[str, _Transaction] = {}
        self._faults: dict[str, deque[_Fault]] = {route: deque() for route in _ROUTES}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._generation = 0
        self.app = Starlette(
            routes=[
                Route("/api/v1/charge", self._charge, methods=["POST"]),
                Route("/api/v1/get-payment-status/{track_id}", self._status, methods=["GET"]),
                Route("/api/v1/create-refund", self._refund, methods=["POST"]),
                Route("/pay/{track_id}", self._pay_page, methods=["GET"]),
            ]
        )
        self._server = LocalServer(self.app, port=port, startup_timeout_s=startup_timeout_s)

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FakeUPayments:
        self._closing.clear()
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()  # wakes handlers that are simulating a slow answer
        self._server.stop()

    @property
    def origin(self) -> str:
        return self._server.origin

    @property
    def base_url(self) -> str:
        return self.origin + "/api/v1/"

    def reset(self) -> None:
        """Forget requests, charges and pending faults and restore the constructor's settings,
        so one running server can serve many tests."""
        with self._lock:
            self.requests.clear()
            self.signature_failures.clear()
            self._transactions.clear()
            for faults in self._faults.values():
                faults.clear()
            self.signature_secret = self._initial_signature_secret
            self.default_result = self._initial_default_result
            self.amount_format = self._initial_amount_format
            self._generation += 1  # abandons answers still being delayed for a previous test

    # -- inspection -----------------------------------------------------------------------------

    @property
    def charges(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.route == "charge"]

    @property
    def refunds(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.route == "refund"]

    @property
    def status_calls(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.route == "status"]

    def transaction(self, track_id: str) -> dict[str, Any]:
        with self._lock:
            return self._transaction_json(self._transactions[track_id])

    # -- controls -------------------------------------------------------------------------------

    def set_outcome(self, track_id: str, result: str, /, **fields: Any) -> None:
        """Set the result (``CAPTURED``, ``NOT CAPTURED``, ``CANCELED``...) of a charge; extra
        keyword fields override or add keys of the status answer's transaction."""
        with self._lock:
            txn = self._transactions[track_id]
            txn.result = result
            txn.extra.update(fields)

    def fail_next(self, route: FakeRoute, status_code: int = 500, count: int = 1) -> None:
        self._add_fault(route, count, _Fault("status", status_code=status_code))

    def timeout_next(self, route: FakeRoute, delay_s: float, count: int = 1) -> None:
        """Answer the next ``count`` calls only after ``delay_s`` (longer than the client's
        timeout). The request is still processed, as a real slow server would."""
        self._add_fault(route, count, _Fault("timeout", delay_s=delay_s))

    def html_next(self, route: FakeRoute, status_code: int = 200, count: int = 1) -> None:
        self._add_fault(route, count, _Fault("html", status_code=status_code))

    def reject_next(self, route: FakeRoute, message: str, count: int = 1) -> None:
        self._add_fault(route, count, _Fault("reject", status_code=200, message=message))

    def require_signatures(self, secret: str | None) -> None:
        """Reject calls without a valid ``X-Timestamp``/``X-Signature`` with 401 (None: off)."""
        self.signature_secret = secret

    def build_webhook(
        self,
        notification_url: str,
        secret: str,
        track_id: str,
        *,
        result: str | None = None,
        timestamp: int | None = None,
    ) -> WebhookDelivery:
        """A signed webhook as UPayments would POST it to ``notification_url`` for a charge.

        Signature: Base64(HMAC-SHA256(secret, timestamp + "POST" + full URL + raw body))."""
        with self._lock:
            txn = self._transactions[track_id]
            payload = {
                "result": result or txn.result,
                "payment_id": txn.payment_id,
                "track_id": txn.track_id,
                "requested_order_id": txn.order_id,
                "ref": txn.reference,
                "tran_id": txn.tran_id,
                "post_date": time.strftime("%m%d"),
                "auth": "B" + txn.tran_id[-5:],
                "payment_type": "knet" if txn.payment_method == "knet" else "card",
            }
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = hmac_b64(secret, ts.encode("ascii") + b"POST" + notification_url.encode() + body)
        headers = {
            "Content-Type": "application/json",
            "X-Timestamp": ts,
            "X-Signature": signature,
        }
        return WebhookDelivery(url=notification_url, headers=headers, body=body)

    # -- handlers -------------------------------------------------------------------------------

    def _add_fault(self, route: FakeRoute, count: int, fault: _Fault) -> None:
        if route not in self._faults:
            raise ValueError(f"unknown route {route!r}; expected one of {_ROUTES}")
        with self._lock:
            self._faults[route].extend(fault for _ in range(count))

    async def _record(self, route: str, request: Request) -> tuple[RecordedRequest, _Fault | None]:
        body = await request.body()
        record = RecordedRequest(
            route=route,
            method=request.method,
            path=request.scope.get("raw_path", b"").decode("latin-1"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(record)
            fault = self._faults[route].popleft() if self._faults[route] else None
        return record, fault

    async def _sleep(self, delay_s: float) -> bool:
        """Sleep up to ``delay_s``; False if interrupted by shutdown or :meth:`reset`."""
        generation = self._generation
        deadline = time.monotonic() + delay_s
        while time.monotonic() < deadline:
            if self._closing.is_set() or self._generation != generation:
                return False
            await asyncio.sleep(0.02)
        return True

    async def _apply_fault(self, fault: _Fault | None) -> Response | None:
        if fault is None:
            return None
        if fault.kind == "timeout":
            if await self._sleep(fault.delay_s):
                return None
            return _envelope_error("Fake server reset", 503)
        if fault.kind == "html":
            html = "<html><body><h1>Access denied</h1></body></html>"
            return HTMLResponse(html, status_code=fault.status_code)
        if fault.kind == "reject":
            return _envelope_error(fault.message, 200)
        return _envelope_error("Simulated failure", fault.status_code)

    def _check_auth(self, record: RecordedRequest) -> Response | None:
        if record.headers.get("authorization") != f"Bearer {self.api_key}":
            return _envelope_error("Unauthenticated.", 401)
        secret = self.signature_secret
        if secret is None:
            return None
        reason = self._signature_problem(secret, record)
        if reason is None:
            return None
        with self._lock:
            self.signature_failures.append(reason)
        return _envelope_error(f"Invalid signature ({reason})", 401)

    @staticmethod
    def _signature_problem(secret: str, record: RecordedRequest) -> str | None:
        timestamp = record.headers.get("x-timestamp")
        signature = record.headers.get("x-signature")
        if not timestamp or not signature:
            return "missing signature headers"
        if not (timestamp.isascii() and timestamp.isdigit()):
            return "bad timestamp"
        if abs(time.time() - int(timestamp)) > _SIGNATURE_TOLERANCE_S:
            return "stale timestamp"
        api_path = record.path.removeprefix("/api/v1/")
        message = timestamp.encode() + record.method.encode() + api_path.encode() + record.body
        if not hmac.compare_digest(hmac_b64(secret, message).encode(), signature.encode()):
            return "signature mismatch"
        return None

    async def _charge(self, request: Request) -> Response:
        record, fault = await self._record("charge", request)
        response = await self._apply_fault(fault)
        if response is not None:
            return response
        denied = self._check_auth(record)
        if denied is not None:
            return denied
        try:
            body = record.json()
        except ValueError:
            return _envelope_error("Malformed JSON body", 400)
        errors = _validate_charge(body)
        if errors:
            return _envelope_error("The given data was invalid.", 400, errors)
        order = body["order"]
        track_id = secrets.token_hex(10)
        reference = body.get("reference")
        txn = _Transaction(
            track_id=track_id,
            order_id=order["id"],
            reference=reference.get("id") if isinstance(reference, dict) else None,
            amount=Decimal(order["amount"]).quantize(Decimal("0.001")),
            currency=order["currency"],
            notification_url=body.get("notificationUrl"),
            payment_method=(body.get("paymentGateway") or {}).get("src"),
            result=self.default_result,
        )
        with self._lock:
            self._transactions[track_id] = txn
        data = {"link": f"{self.origin}/pay/{track_id}", "trackId": track_id}
        return _json_response({"status": True, "message": "Charge created", "data": data}, 201)

    async def _status(self, request: Request) -> Response:
        record, fault = await self._record("status", request)
        response = await self._apply_fault(fault)
        if response is not None:
            return response
        denied = self._check_auth(record)
        if denied is not None:
            return denied
        track_id = request.path_params["track_id"]
        with self._lock:
            txn = self._transactions.get(track_id)
            transaction = self._transaction_json(txn) if txn else None
        if transaction is None:
            return _envelope_error("Transaction not found", 404)
        payload = {
            "status": True,
            "message": "Payment status",
            "data": {"transaction": transaction},
        }
        return _json_response(payload)

    async def _refund(self, request: Request) -> Response:
        """create-refund: ``orderId`` is the ``refund_order_id`` of a status answer; a captured
        charge can be refunded up to its amount, after which its status result is ``REFUND``."""
        record, fault = await self._record("refund", request)
        response = await self._apply_fault(fault)
        if response is not None:
            return response
        denied = self._check_auth(record)
        if denied is not None:
            return denied
        try:
            body = record.json()
            amount = Decimal(str(body["totalPrice"]))
            refund_order_id = body["orderId"]
        except (ValueError, KeyError, TypeError, InvalidOperation):
            return _envelope_error("The given data was invalid.", 400, ["orderId and totalPrice are required"])
        with self._lock:
            txn = next((t for t in self._transactions.values() if "R" + t.tran_id == refund_order_id), None)
            if txn is None:
                return _envelope_error("Order not found", 404)
            if txn.result != "CAPTURED" or not amount.is_finite() or amount <= 0 or amount > txn.amount - txn.refunded:
                return _envelope_error("Refund amount is not refundable", 400)
            txn.refunded += amount
            txn.result = "REFUND"
            data = {"orderId": refund_order_id, "refundOrderId": "RF" + txn.tran_id, "refundArn": "ARN" + txn.tran_id}
        return _json_response({"status": True, "message": "Refund invoice generated successfully", "data": data}, 201)

    async def _pay_page(self, request: Request) -> Response:
        track_id = request.path_params["track_id"]
        return HTMLResponse(f"<html><body>Fake UPayments checkout {track_id}</body></html>")

    def _transaction_json(self, txn: _Transaction) -> dict[str, Any]:
        price: Decimal | str = txn.amount
        if self.amount_format == "string":
            price = format(txn.amount, "f")
        transaction: dict[str, Any] = {
            "result": txn.result,
            "track_id": txn.track_id,
            "payment_id": txn.payment_id,
            "tran_id": txn.tran_id,
            "merchant_requested_order_id": txn.order_id,
            "reference": txn.reference,
            "total_price": price,
            "currency_type": txn.currency,
            "payment_type": "knet" if txn.payment_method == "knet" else "card",
            "refund_order_id": "R" + txn.tran_id,
        }
        transaction.update(txn.extra)
        return transaction


def _validate_charge(body: Any) -> list[str]:
    """The documented mandatory fields and their limits (payments_domains.md §1.3)."""
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    errors: list[str] = []
    order = body.get("order")
    if not isinstance(order, dict):
        return ["order is required"]
    if not isinstance(order.get("id"), str) or not 1 <= len(order["id"]) <= 40:
        errors.append("order.id must be a string of 1-40 characters")
    description = order.get("description")
    if not isinstance(description, str) or not 1 <= len(description) <= 500:
        errors.append("order.description must be a string of 1-500 characters")
    currency = order.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        errors.append("order.currency must be a 3-letter code")
    amount = order.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        errors.append("order.amount must be a number")
    elif amount <= 0 or not _has_at_most_3_decimals(Decimal(amount)):
        errors.append("order.amount must be positive with at most 3 decimals")
    if body.get("language") not in ("en", "ar"):
        errors.append("language must be en or ar")
    for key in ("returnUrl", "cancelUrl", "notificationUrl"):
        if not isinstance(body.get(key), str) or not body[key].startswith(("http://", "https://")):
            errors.append(f"{key} must be an http(s) URL")
    gateway = body.get("paymentGateway")
    if gateway is not None and (not isinstance(gateway, dict) or gateway.get("src") not in _GATEWAYS):
        errors.append("paymentGateway.src is not a supported method")
    for key in ("customer", "reference", "tokens"):
        if key in body and body[key] is not None and not isinstance(body[key], dict):
            errors.append(f"{key} must be an object")
    return errors


def _has_at_most_3_decimals(amount: Decimal) -> bool:
    try:
        return amount == amount.quantize(Decimal("0.001"))
    except InvalidOperation:  # more digits than the decimal context holds
        return False
