"""Request bodies of the billing service, validated with pydantic before anything else runs."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kwq8.service.errors import ServiceError

PLAN_PATTERN = r"^[a-z][a-z0-9_]{1,30}$"
ORDER_ID_PATTERN = r"^kwq8_[0-9a-f]{32}$"

# What no field of a request may carry: the C0 controls but tab, line feed and carriage return,
# DEL and the C1 controls. PostgreSQL cannot store NUL at all; the rest are never typed by a
# person and only hide text in logs and dashboards. One character class, scanned once per string.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_FIELD_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def refuse_control_characters(data: Any, where: str) -> None:
    """VAL_002 when any string in ``data`` (a parsed body or query: dict keys, values, list
    items, at any depth) has a forbidden character. The details name the top-level field, never
    the text."""
    stack: list[tuple[str, Any]] = [(where, data)]
    while stack:
        location, value = stack.pop()
        if isinstance(value, str):
            if FORBIDDEN_CHARACTERS.search(value):
                raise ServiceError("VAL_002", f"{location} contains a control character")
        elif isinstance(value, dict):
            for name, item in value.items():
                if isinstance(name, str) and FORBIDDEN_CHARACTERS.search(name):
                    raise ServiceError("VAL_002", f"a field name in {where} contains a control character")
                inner = f"{where}.{name}" if location == where and _FIELD_NAME.match(str(name)) else location
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((location, item) for item in value)


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    plan: str = Field(pattern=PLAN_PATTERN)
    # K-Net or card. Without it UPayments shows its own method page (non-white-label merchants).
    payment_method: Literal["knet", "cc"] | None = None
    language: Literal["ar", "en"] = "ar"


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cancel: bool = True


class UPaymentsNotification(BaseModel):
    """What a UPayments notification carries (payments_domains.md §1.5: the official plugins read
    result, payment_id, track_id, requested_order_id...). Other keys are kept in the recorded
    payload but play no part: only get-payment-status decides."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True)

    track_id: str = Field(min_length=1, max_length=255, pattern=r"^[^\s/\\]+$")
    result: str | None = Field(default=None, max_length=50)
    payment_id: str | None = Field(default=None, max_length=255)
    requested_order_id: str | None = Field(default=None, max_length=40)
    order_id: str | None = Field(default=None, max_length=40)

    @property
    def claimed_order_id(self) -> str | None:
        return self.requested_order_id or self.order_id


def validation_details(exc: ValidationError) -> str:
    """Where and what, never the rejected input (it may be a secret pasted in the wrong field)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        location = ".".join(str(p) for p in error.get("loc", ())) or "body"
        parts.append(f"{location}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)[:500]


def parse_json_body(raw: bytes, model: type[BaseModel]) -> Any:
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServiceError("VAL_001", "the body must be a JSON object") from exc
    if not isinstance(data, dict):
        raise ServiceError("VAL_001", "the body must be a JSON object")
    refuse_control_characters(data, "body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ServiceError("VAL_001", validation_details(exc)) from exc


def notification_payload(raw: bytes, content_type: str) -> dict[str, Any]:
    """The notification's fields from a JSON or form body (both occur). Never from the query
    string: the webhook signature covers the body only."""
    data: dict[str, Any] = {}
    text = raw.decode("utf-8", errors="replace").strip()
    if text:
        if "json" in content_type or text.startswith("{"):
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                raise ServiceError("VAL_001", "the notification body is not valid JSON") from exc
            if not isinstance(parsed, dict):
                raise ServiceError("VAL_001", "the notification body must be a JSON object")
            data = parsed
        else:
            data = dict(parse_qsl(text, keep_blank_values=True))
    refuse_control_characters(data, "body")
    return data


def parse_notification(payload: dict[str, Any]) -> UPaymentsNotification:
    try:
        return UPaymentsNotification.model_validate(payload)
    except ValidationError as exc:
        raise ServiceError("VAL_001", validation_details(exc)) from exc


class DomainSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    query: str = Field(min_length=1, max_length=300)
    years: int = Field(default=1, ge=1, le=10)


class DomainCheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project_id: uuid.UUID
    fqdn: str = Field(min_length=1, max_length=300)
    years: int = Field(default=1, ge=1, le=10)
    payment_method: Literal["knet", "cc"] | None = None
    language: Literal["ar", "en"] = "ar"


class DomainRenewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    fqdn: str = Field(min_length=1, max_length=300)
    years: int = Field(default=1, ge=1, le=10)
    payment_method: Literal["knet", "cc"] | None = None
    language: Literal["ar", "en"] = "ar"


class DomainConnectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    project_id: uuid.UUID
    fqdn: str = Field(min_length=1, max_length=300)


class DomainMoveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    fqdn: str = Field(min_length=1, max_length=300)
    project_id: uuid.UUID
