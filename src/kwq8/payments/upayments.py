"""UPayments v2 ("UInterfaceV2") API client: create a KWD charge and check its payment status.

Wire format (see shared/research/payments_domains.md §1): JSON over HTTPS below ``.../api/v1/``,
``Authorization: Bearer <API key>``, envelope ``{"status": bool, "message": str, "data": {...}}``.
When an API Secret Key is configured every request is also HMAC-signed (``X-Timestamp`` and
``X-Signature``, see :mod:`kwq8.payments.signature`).

Money is ``Decimal`` end to end: KWD has three decimals (fils), the request body is written by
hand so ``order.amount`` goes out as an exact number such as ``23.000``, and responses are parsed
with ``parse_float=Decimal``.

A paid status must still be bound to the order before fulfilling it (track id, order id,
currency and exact amount): use :meth:`PaymentStatus.confirms`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal
from urllib.parse import quote

import httpx

from kwq8.payments.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

log = logging.getLogger(__name__)

SANDBOX_BASE_URL = "https://sandboxapi.upayments.com/api/v1/"
PRODUCTION_BASE_URL = "https://apiv2api.upayments.com/api/v1/"
API_PREFIX = "/api/v1/"

CURRENCY = "KWD"
FILS = Decimal("0.001")
# Our storage is NUMERIC(12,3); anything larger is a unit mix-up (fils passed as KWD), not a sale.
MAX_AMOUNT = Decimal("999999999.999")

MAX_ORDER_ID = 40
MAX_DESCRIPTION = 500
MAX_REFERENCE = 255
MAX_TRACK_ID = 255
LANGUAGES = frozenset({"ar", "en"})
PAYMENT_METHODS = frozenset({"knet", "cc"})
CUSTOMER_FIELDS = frozenset({"uniqueId", "name", "email", "mobile"})

ErrorKind = Literal["timeout", "network", "http", "rejected", "invalid_response"]
Language = Literal["ar", "en"]
PaymentMethod = Literal["knet", "cc"]

WHITELIST_HINT = (
    "the official UPayments plugins report a non-JSON answer as the server IP not being "
    "whitelisted: ask UPayments support to whitelist this server's egress IP"
)
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_PROVIDER_MESSAGE = 300


class ConfigError(Exception):
    """The UPayments configuration is missing or unusable. Never carries secret values."""


class UPaymentsError(Exception):
    """A UPayments call failed.

    ``kind`` says what to do about it:

    - ``timeout``: no answer in time; for a charge the outcome is unknown (check its status
      later, do not blindly charge again);
    - ``network``: the connection failed;
    - ``http``: a non-2xx answer (``status_code`` set; 5xx and 429 are worth retrying later);
    - ``rejected``: UPayments answered ``"status": false`` (its ``message`` is included);
    - ``invalid_response``: the answer was not the documented JSON envelope.
    """

    def __init__(self, kind: ErrorKind, message: str, status_code: int | None = None) -> None:
        super().__init__(f"UPayments {kind}: {message}")
        self.kind = kind
        self.message = message
        self.status_code = status_code

    @property
    def retryable(self) -> bool:
        if self.kind in ("timeout", "network"):
            return True
        return self.kind == "http" and self.status_code is not None and _retryable_status(self.status_code)


@dataclass(frozen=True, repr=False)
class UPaymentsConfig:
    api_key: str
    base_url: str
    api_secret: str | None = None
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ConfigError("UPayments API key is empty")
        if self.api_secret == "":
            object.__setattr__(self, "api_secret", None)
        if not self.timeout_s > 0:
            raise ConfigError("UPayments timeout must be positive")
        object.__setattr__(self, "base_url", _normalise_base_url(self.base_url))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> UPaymentsConfig:
        """Read ``UPAYMENTS_API_KEY`` (required), ``UPAYMENTS_API_SECRET`` (optional),
        ``UPAYMENTS_ENV`` (``sandbox`` | ``production``, default sandbox) and an optional
        ``UPAYMENTS_BASE_URL`` override. Errors name the variable, never its value."""
        env = os.environ if environ is None else environ
        api_key = env.get("UPAYMENTS_API_KEY", "").strip()
        if not api_key:
            raise ConfigError("UPAYMENTS_API_KEY is not set")
        mode = env.get("UPAYMENTS_ENV", "").strip().lower() or "sandbox"
        if mode not in ("sandbox", "production"):
            raise ConfigError("UPAYMENTS_ENV must be 'sandbox' or 'production'")
        base_url = PRODUCTION_BASE_URL if mode == "production" else SANDBOX_BASE_URL
        override = env.get("UPAYMENTS_BASE_URL", "").strip()
        if override:
            try:
                base_url = _normalise_base_url(override)
            except ConfigError as exc:
                raise ConfigError(f"UPAYMENTS_BASE_URL: {exc}") from None
        secret = env.get("UPAYMENTS_API_SECRET", "").strip() or None
        return cls(api_key=api_key, base_url=base_url, api_secret=secret)

    def __repr__(self) -> str:
        secret = "set" if self.api_secret else "unset"
        return (
            f"UPaymentsConfig(base_url={self.base_url!r}, api_key=[redacted], "
            f"api_secret={secret}, timeout_s={self.timeout_s!r})"
        )

    __str__ = __repr__


def _normalise_base_url(base_url: str) -> str:
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigError("UPayments base URL is not a valid URL") from exc
    # The API key is a bearer credential: plain HTTP is only acceptable to a local fake.
    if url.scheme != "https" and not (url.scheme == "http" and url.host in _LOOPBACK_HOSTS):
        raise ConfigError("UPayments base URL must use https (http only for loopback hosts)")
    if url.query or url.fragment:
        raise ConfigError("UPayments base URL must not have a query or fragment")
    text = str(url)
    if not text.endswith("/"):
        text += "/"
    # Request signatures cover the path relative to /api/v1/, so the base must end there.
    if not httpx.URL(text).path.endswith(API_PREFIX):
        raise ConfigError("UPayments base URL must end with /api/v1/")
    return text


@dataclass(frozen=True)
class Product:
    name: str
    price: Decimal
    quantity: int = 1
    description: str = ""


@dataclass(frozen=True)
class ChargeResult:
    link: str
    track_id: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class RefundResult:
    refund_order_id: str | None
    refund_arn: str | None
    raw: dict[str, Any]


@dataclass(frozen=True)
class PaymentStatus:
    result: str
    track_id: str | None
    payment_id: str | None
    order_id: str | None
    amount: Decimal | None
    currency: str | None
    paid: bool
    raw: dict[str, Any]
    reference: str | None = None
    refund_order_id: str | None = None

    def as_verified(self) -> dict[str, Any]:
        """The answer as the payment functions take it (``verified`` of record_payment_event and
        record_status_check): only what binds the status to an order, the amount as a string."""
        return {
            "result": self.result,
            "track_id": self.track_id,
            "order_id": self.order_id,
            "payment_id": self.payment_id,
            "amount": None if self.amount is None else str(self.amount),
            "currency": self.currency,
        }

    def confirms(self, order_id: str, amount: Decimal, currency: str = CURRENCY) -> bool:
        """True only if this is a captured payment of exactly ``amount`` for ``order_id``.

        A missing amount or currency never confirms: the status must prove the binding."""
        return (
            self.paid
            and self.order_id == order_id
            and self.currency is not None
            and self.currency.upper() == currency.upper()
            and self.amount is not None
            and self.amount == amount
        )


def validate_kwd_amount(amount: Decimal) -> Decimal:
    """Return ``amount`` quantized to fils (0.001), or raise ``ValueError``.

    Only ``Decimal`` is accepted: a float such as 0.1 is not exactly representable, and an int
    is more often fils passed by mistake than whole dinars."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal):
        raise ValueError(
            f"amount must be a decimal.Decimal in KWD, got {type(amount).__name__} (floats cannot hold fils exactly)"
        )
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    if amount <= 0:
        raise ValueError("amount must be greater than zero")
    if amount > MAX_AMOUNT:
        raise ValueError(f"amount must be at most {MAX_AMOUNT} KWD")
    try:
        quantized = amount.quantize(FILS)
    except InvalidOperation as exc:  # too many digits for the decimal context
        raise ValueError("amount is not representable with 3 decimals") from exc
    if quantized != amount:
        raise ValueError("amount must have at most 3 decimal places (KWD fils)")
    return quantized


def _require_text(name: str, value: object, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > max_len:
        raise ValueError(f"{name} must be at most {max_len} characters (got {len(value)})")
    return value


def _require_url(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise ValueError(f"{name} must be an absolute http(s) URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    return value


def _json(value: Any) -> str:
    """Serialise the request body ourselves so Decimals go out as exact JSON numbers.

    ``json.dumps`` can only write floats (lossy) or strings (not what UPayments documents).
    Strings are ASCII-escaped so the signed bytes cannot be altered by charset handling."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("cannot serialise a non-finite Decimal")
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}:{_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json(v) for v in value) + "]"
    raise TypeError(f"cannot serialise {type(value).__name__} into a UPayments request")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _loads(content: bytes) -> Any:
    return json.loads(content, parse_float=Decimal, parse_constant=_reject_constant)


def _to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal | int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def _to_str(value: Any) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value)
    return text or None


def _retryable_status(status_code: int) -> bool:
    return status_code == 429 or status_code >= 500


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isascii() and value.isdigit() else None


class UPaymentsClient:
    """Synchronous UPayments client. Use as a context manager, or call :meth:`close`.

    ``http`` (an ``httpx.Client`` you own) or ``transport`` may be injected for tests; ``sleep``
    replaces ``time.sleep`` between retries and ``clock`` supplies the signature timestamp.
    """

    def __init__(
        self,
        config: UPaymentsConfig,
        *,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        max_retry_after_s: float = 5.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._config = config
        self._owns_http = http is None
        # No redirects: the bearer key must only ever go to the configured host.
        self._http = http or httpx.Client(transport=transport, follow_redirects=False)
        self._timeout = httpx.Timeout(config.timeout_s, connect=min(config.timeout_s, 5.0))
        self._sleep = sleep
        self._clock = clock
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._max_retry_after_s = max_retry_after_s

    def __enter__(self) -> UPaymentsClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # -- public API ---------------------------------------------------------------------------

    def create_charge(
        self,
        order_id: str,
        amount: Decimal,
        description: str,
        language: Language,
        return_url: str,
        cancel_url: str,
        notification_url: str,
        payment_method: PaymentMethod | None = None,
        customer: Mapping[str, str | None] | None = None,
        reference: str | None = None,
        products: Sequence[Product] | None = None,
    ) -> ChargeResult:
        """Create a KWD charge and return the hosted payment link to redirect the customer to.

        ``payment_method`` (``knet`` or ``cc``) is only needed by white-label merchants; without
        it UPayments shows its own method-selection page. Raises ``ValueError`` before any
        request on invalid input, :class:`UPaymentsError` on failure.
        """
        body = self._charge_body(
            order_id=order_id,
            amount=amount,
            description=description,
            language=language,
            return_url=return_url,
            cancel_url=cancel_url,
            notification_url=notification_url,
            payment_method=payment_method,
            customer=customer,
            reference=reference,
            products=products,
        )
        response = self._send_once_only("charge", body)
        data = self._envelope_data(response)
        link = data.get("link")
        track_id = data.get("trackId")
        # Token/white-label flows answer with transactionData instead of a top-level link.
        transaction = data.get("transactionData")
        if isinstance(transaction, dict):
            link = link or transaction.get("redirect_url")
            track_id = track_id or transaction.get("track_id")
        if not isinstance(link, str) or not link.startswith(("https://", "http://")):
            raise UPaymentsError("invalid_response", "charge answer has no payment link", response.status_code)
        result = ChargeResult(link=link, track_id=_to_str(track_id), raw=data)
        log.info("upayments charge created order_id=%s track_id=%s", order_id, result.track_id)
        return result

    def create_refund(self, refund_order_id: str, amount: Decimal, *, reference: str | None = None) -> RefundResult:
        """``POST create-refund`` for ``refund_order_id`` (the ``refund_order_id`` of the
        payment's status answer). Like a charge it is not idempotent: sent at most once, retried
        only when the connection could not even be opened. A timeout or 5xx leaves the outcome
        unknown; the caller records that for an operator instead of asking again."""
        _require_text("refund_order_id", refund_order_id, 255)
        body: dict[str, Any] = {"orderId": refund_order_id, "totalPrice": validate_kwd_amount(amount)}
        if reference is not None:
            body["reference"] = _require_text("reference", reference, 255)
        response = self._send_once_only("create-refund", _json(body).encode("ascii"))
        data = self._envelope_data(response)
        result = RefundResult(
            refund_order_id=_to_str(data.get("refundOrderId")), refund_arn=_to_str(data.get("refundArn")), raw=data
        )
        log.info("upayments refund created refund_order_id=%s", result.refund_order_id)
        return result

    def get_payment_status(self, track_id: str) -> PaymentStatus:
        """Fetch the transaction for ``track_id``. ``paid`` is true only for ``CAPTURED``.

        Retries timeouts, network errors, 5xx and 429 (the endpoint is limited to 30
        requests/minute) with exponential backoff, up to ``max_attempts`` in total.
        """
        if not isinstance(track_id, str) or not track_id or len(track_id) > MAX_TRACK_ID:
            raise ValueError(f"track_id must be a non-empty string of at most {MAX_TRACK_ID}")
        if "/" in track_id or "\\" in track_id or not track_id.isprintable() or " " in track_id:
            raise ValueError("track_id must not contain slashes, spaces or control characters")
        if set(track_id) == {"."}:  # would be collapsed as a dot-segment of the path
            raise ValueError("track_id must not be a dot-segment")
        path = "get-payment-status/" + quote(track_id, safe="")
        response = self._send_with_retries("GET", path)
        data = self._envelope_data(response)
        transaction = data.get("transaction")
        if not isinstance(transaction, dict):
            raise UPaymentsError("invalid_response", "status answer has no data.transaction", response.status_code)
        returned_track_id = _to_str(transaction.get("track_id"))
        if returned_track_id is not None and returned_track_id != track_id:
            raise UPaymentsError("invalid_response", "status answer is for another track id", response.status_code)
        result = _to_str(transaction.get("result")) or ""
        return PaymentStatus(
            result=result,
            track_id=returned_track_id or track_id,
            payment_id=_to_str(transaction.get("payment_id")),
            order_id=_to_str(transaction.get("merchant_requested_order_id")),
            amount=_to_decimal(transaction.get("total_price")),
            currency=_to_str(transaction.get("currency_type")),
            paid=result.strip().upper() == "CAPTURED",
            raw=data,
            reference=_to_str(transaction.get("reference")),
            refund_order_id=_to_str(transaction.get("refund_order_id")),
        )

    # -- request building -----------------------------------------------------------------------

    def _charge_body(
        self,
        *,
        order_id: str,
        amount: Decimal,
        description: str,
        language: str,
        return_url: str,
        cancel_url: str,
        notification_url: str,
        payment_method: str | None,
        customer: Mapping[str, str | None] | None,
        reference: str | None,
        products: Sequence[Product] | None,
    ) -> bytes:
        _require_text("order_id", order_id, MAX_ORDER_ID)
        kwd = validate_kwd_amount(amount)
        _require_text("description", description, MAX_DESCRIPTION)
        if language not in LANGUAGES:
            raise ValueError("language must be 'ar' or 'en'")
        _require_url("return_url", return_url)
        _require_url("cancel_url", cancel_url)
        _require_url("notification_url", notification_url)
        if payment_method is not None and payment_method not in PAYMENT_METHODS:
            raise ValueError("payment_method must be 'knet', 'cc' or None")
        if reference is not None:
            _require_text("reference", reference, MAX_REFERENCE)

        order: dict[str, Any] = {"id": order_id}
        if reference is not None:
            order["reference"] = reference
        order.update({"description": description, "currency": CURRENCY, "amount": kwd})
        body: dict[str, Any] = {
            "order": order,
            "language": language,
            "returnUrl": return_url,
            "cancelUrl": cancel_url,
            "notificationUrl": notification_url,
        }
        if payment_method is not None:
            body["paymentGateway"] = {"src": payment_method}
        if customer is not None:
            body["customer"] = _customer(customer)
        if reference is not None:
            body["reference"] = {"id": reference}
        # Documented as a mandatory object; null means "do not save or use a saved card".
        body["tokens"] = {"customerUniqueToken": None}
        if products is not None:
            body["products"] = [_product(p) for p in products]
        return _json(body).encode("ascii")

    def _headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self._config.api_key}",
            "Accept": "application/json",
        }
        if body:
            headers["Content-Type"] = "application/json"
        if self._config.api_secret:
            timestamp = str(int(self._clock()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(self._config.api_secret, timestamp, method, path, body)
        return headers

    # -- transport ------------------------------------------------------------------------------

    def _send_once(self, method: str, path: str, body: bytes = b"") -> httpx.Response:
        # Headers are rebuilt per attempt so a retried request carries a fresh timestamp.
        return self._http.request(
            method,
            self._config.base_url + path,
            content=body or None,
            headers=self._headers(method, path, body),
            timeout=self._timeout,
            follow_redirects=False,
        )

    def _send_once_only(self, path: str, body: bytes) -> httpx.Response:
        # A charge or refund is not idempotent: once any byte of the request may have reached
        # UPayments, retrying could create a second one for the same order. Only httpx.ConnectError is
        # retried, because it is raised while opening the connection, before the request is
        # written. Timeouts (including a slow connect), dropped connections and 5xx answers
        # surface to the caller, who should check the order's status instead of charging again.
        for attempt in range(1, self._max_attempts + 1):
            try:
                return self._send_once("POST", path, body)
            except httpx.ConnectError as exc:
                if attempt == self._max_attempts:
                    raise _transport_error(exc) from exc
                log.warning("upayments %s: connect failed, retrying (attempt %d)", path, attempt)
                self._sleep(self._backoff(attempt))
            except httpx.TransportError as exc:
                raise _transport_error(exc) from exc
        raise AssertionError("unreachable")

    def _send_with_retries(self, method: str, path: str) -> httpx.Response:
        # Only for idempotent reads.
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                response = self._send_once(method, path)
            except httpx.TransportError as exc:
                if last:
                    raise _transport_error(exc) from exc
                log.warning("upayments %s: %s, retrying (attempt %d)", path, type(exc).__name__, attempt)
                self._sleep(self._backoff(attempt))
                continue
            if not _retryable_status(response.status_code) or last:
                return response
            delay = self._backoff(attempt)
            retry_after = _retry_after_s(response)
            if retry_after is not None:
                if retry_after > self._max_retry_after_s:
                    return response  # blocked for longer than is worth waiting in-request
                delay = max(delay, retry_after)
            log.warning("upayments %s: HTTP %d, retrying (attempt %d)", path, response.status_code, attempt)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        return self._backoff_s * (2 ** (attempt - 1))

    # -- response parsing -----------------------------------------------------------------------

    def _envelope_data(self, response: httpx.Response) -> dict[str, Any]:
        status_code = response.status_code
        try:
            payload = _loads(response.content)
        except ValueError:
            payload = None
        if _retryable_status(status_code):
            raise UPaymentsError("http", self._http_message(status_code, payload), status_code)
        if not isinstance(payload, dict):
            content_type = response.headers.get("Content-Type", "unknown content type")
            raise UPaymentsError(
                "invalid_response",
                f"non-JSON answer (HTTP {status_code}, {content_type}); {WHITELIST_HINT}",
                status_code,
            )
        if not 200 <= status_code < 300:
            raise UPaymentsError("http", self._http_message(status_code, payload), status_code)
        status = payload.get("status")
        if status is False:
            message = self._provider_message(payload) or "request rejected"
            raise UPaymentsError("rejected", message, status_code)
        if status is not True:
            raise UPaymentsError("invalid_response", "answer has no boolean status", status_code)
        data = payload.get("data")
        if not isinstance(data, dict):
            raise UPaymentsError("invalid_response", "answer has no data object", status_code)
        return data

    def _http_message(self, status_code: int, payload: Any) -> str:
        message = f"HTTP {status_code}"
        provider = self._provider_message(payload) if isinstance(payload, dict) else None
        return f"{message}: {provider}" if provider else message

    def _provider_message(self, payload: dict[str, Any]) -> str | None:
        message = payload.get("message")
        if not isinstance(message, str) or not message:
            return None
        # Whatever the provider echoes back must not smuggle our credentials into logs.
        for secret in (self._config.api_key, self._config.api_secret):
            if secret:
                message = message.replace(secret, "[redacted]")
        return message[:_MAX_PROVIDER_MESSAGE]


def _transport_error(exc: httpx.TransportError) -> UPaymentsError:
    # Only the exception class goes into the message: httpx messages can quote the request.
    if isinstance(exc, httpx.TimeoutException):
        return UPaymentsError("timeout", f"no answer in time ({type(exc).__name__})")
    return UPaymentsError("network", f"connection failed ({type(exc).__name__})")


def _customer(customer: Mapping[str, str | None]) -> dict[str, str | None]:
    unknown = set(customer) - CUSTOMER_FIELDS
    if unknown:
        raise ValueError(f"unknown customer fields: {sorted(unknown)}")
    for key, value in customer.items():
        if value is not None and not isinstance(value, str):
            raise ValueError(f"customer.{key} must be a string")
    return dict(customer)


def _product(product: Product) -> dict[str, Any]:
    _require_text("product name", product.name, 255)
    if len(product.description) > 255:
        raise ValueError("product description must be at most 255 characters")
    if isinstance(product.quantity, bool) or not isinstance(product.quantity, int):
        raise ValueError("product quantity must be an int")
    if product.quantity < 1:
        raise ValueError("product quantity must be at least 1")
    return {
        "name": product.name,
        "description": product.description,
        "price": validate_kwd_amount(product.price),
        "quantity": product.quantity,
    }


__all__ = [
    "CURRENCY",
    "PRODUCTION_BASE_URL",
    "SANDBOX_BASE_URL",
    "ChargeResult",
    "ConfigError",
    "PaymentStatus",
    "Product",
    "UPaymentsClient",
    "UPaymentsConfig",
    "UPaymentsError",
    "validate_kwd_amount",
]
