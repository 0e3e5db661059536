"""What the billing service answers, as pydantic models, and its endpoints.

The frontend contract (``kwq8 gen types``) turns these and the request models of
``kwq8.service.models`` into Zod schemas (types/schemas.ts) and the endpoint table of
docs/frontend.md; the tests check the service's real answers against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kwq8.service.models import ORDER_ID, PLAN, CancelRequest, CheckoutRequest

# Anchored for the generated Zod schemas (JavaScript regexes), from the service's own patterns.
PLAN_PATTERN = f"^{PLAN}$"
ORDER_ID_PATTERN = f"^{ORDER_ID}$"
ERROR_CODE_PATTERN = r"^[A-Z]+_[0-9]{3}$"
KWD_PATTERN = r"^[0-9]+\.[0-9]{3}$"
CREDITS_PATTERN = r"^[0-9]+\.[0-9]{2}$"


class ErrorBody(BaseModel):
    """Every failure: the catalogued code, its Arabic message, English details, a hint."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=ERROR_CODE_PATTERN)
    message: str
    details: str | None
    hint: str | None


class ProrationView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_plan: str = Field(pattern=PLAN_PATTERN)
    period_end: str
    fraction: str
    credits: str = Field(pattern=CREDITS_PATTERN)


class PaymentView(BaseModel):
    """A checkout and later its payment. ``error`` is PAY_001 once the payment failed."""

    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(pattern=ORDER_ID_PATTERN)
    status: Literal["pending", "paid", "failed", "cancelled", "refunded", "needs_review"]
    plan: str = Field(pattern=PLAN_PATTERN)
    kind: Literal["new", "renewal", "upgrade"]
    amount_kwd: str = Field(pattern=KWD_PATTERN)
    currency: Literal["KWD"]
    payment_method: Literal["knet", "cc"] | None
    payment_url: str | None
    fulfilment: Literal["fulfilled", "needs_review"] | None
    credits_granted: str | None = Field(pattern=CREDITS_PATTERN)
    error: ErrorBody | None
    proration: ProrationView | None = None


class SubscriptionView(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field(pattern=PLAN_PATTERN)
    status: Literal["active", "expired", "cancelled"]
    current_period_end: str
    cancel_at_period_end: bool


class WebhookAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    received: bool
    duplicate: bool
    outcome: str


class Health(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    auth: str
    summary: str
    request: type[BaseModel] | None
    response: type[BaseModel]
    status: int
    errors: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


_COMMON = ("RATE_001", "REQ_001", "SYS_001", "SYS_002")
_USER = ("AUTH_003", "AUTH_004", "AUTH_005", "AUTH_006")

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        "/billing/checkout",
        "Supabase access token",
        "Start paying for a plan; answers the UPayments link to send the customer to. "
        "Send an Idempotency-Key header to make retries safe.",
        CheckoutRequest,
        PaymentView,
        201,
        (*_USER, "VAL_001", "VAL_002", "PAY_001", "PAY_004", "PAY_005", *_COMMON),
    ),
    Endpoint(
        "GET",
        "/billing/payments/{order_id}",
        "Supabase access token (the payment's owner)",
        "The payment of an order, for the page UPayments sends the customer back to; a pending one is "
        "checked with UPayments first. A failed payment carries PAY_001 in error.",
        None,
        PaymentView,
        200,
        (*_USER, "PAY_002", *_COMMON),
    ),
    Endpoint(
        "POST",
        "/billing/subscription/cancel",
        "Supabase access token",
        "Renew (cancel: false) or stop at the end of the period (cancel: true).",
        CancelRequest,
        SubscriptionView,
        200,
        (*_USER, "VAL_001", "SUB_001", *_COMMON),
    ),
    Endpoint(
        "POST",
        "/billing/webhooks/upayments",
        "UPayments signature",
        "UPayments notifications (not called by the frontend).",
        None,
        WebhookAnswer,
        200,
        ("PAY_006", "VAL_001", "VAL_002", *_COMMON),
    ),
    Endpoint("GET", "/healthz", "none", "Liveness.", None, Health, 200, ()),
)
