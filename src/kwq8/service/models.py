"""Request bodies of the billing service, validated with pydantic before anything else runs."""

from __future__ import annotations

import json
import math
import re
import uuid
from typing import Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kwq8.service.errors import ServiceError

# Patterns without anchors, always applied whole: re.fullmatch in Python (where "$" would accept a
# trailing newline), anchored by \A and \z for pydantic's regex engine.
PLAN = r"[a-z][a-z0-9_]{1,30}"
ORDER_ID = r"kwq8_[0-9a-f]{32}"
TRACK_ID = r"[^\s/\\]+"

# What no field of a request may carry: the C0 controls but tab, line feed and carriage return,
# DEL and the C1 controls. PostgreSQL cannot store NUL at all; the rest are never typed by a
# person and only hide text in logs and dashboards. One character class, scanned once per string.
FORBIDDEN_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# JSON's \u escapes can spell half of a surrogate pair, which no UTF-8 text (nor PostgreSQL, nor
# UPayments) can carry: refused like the controls, before any provider call.
_SURROGATE = re.compile("[\ud800-\udfff]")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def refuse_control_characters(data: Any, where: str) -> None:
    """VAL_002 when any string in ``data`` (a parsed body or query: dict keys, values, list
    items, at any depth) has a forbidden character, REQ_014 when one has an unpaired surrogate.
    The details name the top-level field, never the text."""
    stack: list[tuple[str, Any]] = [(where, data)]
    while stack:
        location, value = stack.pop()
        if isinstance(value, str):
            _refuse_text(value, location)
        elif isinstance(value, dict):
            for name, item in value.items():
                if isinstance(name, str):
                    _refuse_text(name, f"a field name in {where}")
                inner = f"{where}.{name}" if location == where and _FIELD_NAME.fullmatch(str(name)) else location
                stack.append((inner, item))
        elif isinstance(value, list):
            stack.extend((location, item) for item in value)


def _refuse_text(value: str, location: str) -> None:
    if FORBIDDEN_CHARACTERS.search(value):
        raise ServiceError("VAL_002", f"{location} contains a control character")
    if _SURROGATE.search(value):
        raise ServiceError("REQ_014", f"{location} contains an unpaired surrogate")


class CheckoutRequest(BaseModel):
    # strict: a field of the wrong JSON type is refused, never coerced.
    model_config = ConfigDict(extra="forbid", strict=True)

    plan: str = Field(pattern=rf"\A{PLAN}\z")
    # K-Net or card. Without it UPayments shows its own method page (non-white-label merchants).
    payment_method: Literal["knet", "cc"] | None = None
    language: Literal["ar", "en"] = "ar"


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # Required: an empty body must not mean "cancel".
    cancel: bool


class UPaymentsNotification(BaseModel):
    """What a UPayments notification carries (payments_domains.md §1.5: the official plugins read
    result, payment_id, track_id, requested_order_id...). Other keys are kept in the recorded
    payload but play no part: only get-payment-status decides."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True)

    track_id: str = Field(min_length=1, max_length=255, pattern=rf"\A{TRACK_ID}\z")
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


# Request bodies are small and flat; anything deeper is an attack on the parser (Python's json
# recurses, and a few thousand brackets raise RecursionError).
MAX_JSON_DEPTH = 32
# Longer integers are no field's value, and very long ones cost quadratic time to convert.
MAX_INTEGER_DIGITS = 30
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded",)
# A string token is skipped whole (possessively: linear on unterminated strings), so only the
# brackets outside strings are counted.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*+"?|[\[\]{}]')


def _media_type(content_type: str, allowed: tuple[str, ...]) -> str:
    """The body's media type when it is one of ``allowed`` (a charset, if given, must be UTF-8);
    REQ_011 (415) otherwise: a body is never parsed by guessing from its first byte."""
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    charset = next(
        (
            value.strip().strip('"').lower()
            for name, _, value in (p.partition("=") for p in params.split(";"))
            if name.strip().lower() == "charset"
        ),
        "utf-8",
    )
    if media not in allowed or charset not in ("utf-8", "utf8"):
        raise ServiceError("REQ_011", "the body must be " + " or ".join(allowed) + " (UTF-8)")
    return media


def _utf8(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raise ServiceError("REQ_014", "the body starts with a byte order mark")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ServiceError("REQ_014", "the body is not UTF-8") from None


def _check_depth(text: str) -> None:
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ServiceError("REQ_013", f"the body nests deeper than {MAX_JSON_DEPTH} levels")
        elif bracket in "]}":
            depth -= 1


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ServiceError("REQ_012", "a field appears twice in the body")
        result[key] = value
    return result


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ServiceError("REQ_015", f"an integer in the body has more than {MAX_INTEGER_DIGITS} digits")
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ServiceError("REQ_015", "a number in the body is out of range")
    return value


def _non_finite(text: str) -> Any:
    raise ServiceError("REQ_015", f"{text} is not a JSON number")


def strict_json_object(text: str) -> dict[str, Any]:
    """A JSON object, parsed strictly: RFC 8259 only (no NaN or Infinity), no duplicate keys,
    at most MAX_JSON_DEPTH levels, finite numbers, no unpaired surrogate or control character in
    any string. Each failure is its own 400 code, so nothing reaches a handler half-parsed."""
    _check_depth(text)
    try:
        data = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_int=_integer,
            parse_float=_finite,
            parse_constant=_non_finite,
        )
    except ValueError:
        raise ServiceError("REQ_010", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ServiceError("REQ_010", "the body must be a JSON object")
    refuse_control_characters(data, "body")
    return data


def parse_json_body(raw: bytes, content_type: str, model: type[BaseModel]) -> Any:
    """A request body as ``model``: ``application/json``, strictly parsed (strict_json_object),
    then validated (VAL_001). An empty body is no object and is refused like any other."""
    _media_type(content_type, JSON_TYPES)
    data = strict_json_object(_utf8(raw))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ServiceError("VAL_001", validation_details(exc)) from exc


def notification_payload(raw: bytes, content_type: str) -> dict[str, Any]:
    """The notification's fields from a JSON or form body (both occur), as strictly as any other
    body, and never from the query string: the webhook signature covers the body only."""
    media = _media_type(content_type, JSON_TYPES + FORM_TYPES)
    text = _utf8(raw)
    if media in JSON_TYPES:
        return strict_json_object(text)
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise ServiceError("REQ_010", "the notification is not a valid form body") from None
    data = _no_duplicates(pairs)
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
