"""Secret redaction for structured data and log records."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from kwq8.service.redact import (
    MAX_LOGGED_CHARS,
    REDACTED,
    RedactingFilter,
    is_sensitive_key,
    redact,
    redact_text,
)

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleH"
    "AiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
)
CARD = "4111111111111111"


def test_nested_structures_are_redacted_without_mutating_the_input() -> None:
    payload = {
        "order": {"id": "ord-1", "amount": "23.000", "description": "خطة الأعمال"},
        "headers": {"Authorization": f"Bearer {JWT}", "X-Api-Key": "k-1", "Accept": "json"},
        "customer": {"email": "f@example.kw", "password": "hunter2", "mobile": "+96550000000"},
        "credentials": [{"apiKey": "sk_live_1"}, {"api_secret": "s-2"}, ("access_token", "t")],
        "payment": {"card": {"number": CARD, "cvv": "123"}, "pan": CARD, "cardNumber": CARD},
        "company": "Acme",
        "expand": True,
        "password_hint": None,
    }
    original = repr(payload)
    out = redact(payload)

    assert repr(payload) == original
    assert out["order"] == payload["order"]
    assert out["headers"] == {
        "Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "Accept": "json",
    }
    assert out["customer"]["password"] == REDACTED
    assert out["customer"]["email"] == "f@example.kw"
    assert out["customer"]["mobile"] == "+96550000000"
    assert out["credentials"][0] == {"apiKey": REDACTED}
    assert out["credentials"][1] == {"api_secret": REDACTED}
    assert out["credentials"][2] == ("access_token", "t")  # a tuple is data, not a key/value
    assert out["payment"] == {"card": REDACTED, "pan": REDACTED, "cardNumber": REDACTED}
    assert out["company"] == "Acme" and out["expand"] is True
    assert out["password_hint"] is None
    assert "hunter2" not in repr(out) and "sk_live_1" not in repr(out) and CARD not in repr(out)


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("api_key", True),
        ("apiKey", True),
        ("X-Api-Key", True),
        ("APIKEY", True),
        ("client_secret", True),
        ("refreshToken", True),
        ("Authorization", True),
        ("X-Signature", True),
        ("cvv", True),
        ("pan", True),
        ("card_number", True),
        ("tokens", True),
        ("company", False),
        ("expand", False),
        ("discard", False),
        ("panel", False),
        ("track_id", False),
        ("payment_id", False),
        ("apiary_key_count", False),
    ],
)
def test_sensitive_key_names(key: str, sensitive: bool) -> None:
    assert is_sensitive_key(key) is sensitive


def test_jwts_in_values_become_a_marker() -> None:
    out = redact({"note": f"session {JWT} expired", "items": [JWT]})
    assert out == {"note": "session [jwt] expired", "items": ["[jwt]"]}


def test_bearer_values_are_redacted_in_text() -> None:
    assert redact_text("Authorization: Bearer abc.def-123") == "Authorization: Bearer [redacted]"
    assert redact_text(f"sent bearer {JWT} upstream") == "sent bearer [redacted] upstream"
    assert redact_text("token=abc123&x=1") == "token=[redacted]&x=1"
    assert redact_text('{"api_key": "sk_live_9", "order": "o-1"}') == ('{"api_key": "[redacted]", "order": "o-1"}')
    assert redact_text("UPAYMENTS_API_SECRET=s3cr3t") == "UPAYMENTS_API_SECRET=[redacted]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CARD, "************1111"),
        ("card 4111 1111 1111 1111 ok", "card **** **** **** 1111 ok"),
        ("5500-0000-0000-0004", "****-****-****-0004"),
        ("13 digits 4222222222222", "13 digits *********2222"),
        ("19 digits 6011000990139424123", "19 digits ***************4123"),
    ],
)
def test_card_numbers_keep_only_the_last_four(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order ord-1001 amount 23.000 KWD",
        "12 digits 411111111111",
        "20 digits 41111111111111111111",
        "mobile +96550000000 on 2024-05-29",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert redact_text(text) == text


@pytest.fixture
def redacting_caplog(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    log_filter = RedactingFilter()
    caplog.handler.addFilter(log_filter)
    caplog.set_level(logging.INFO, logger="kwq8.test")
    yield caplog
    caplog.handler.removeFilter(log_filter)


def test_log_records_come_out_redacted(redacting_caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("kwq8.test")
    logger.info(
        "calling upayments with %s using %s for card %s",
        {"api_key": "sk_live_123", "order": "ord-1"},
        f"Bearer {JWT}",
        CARD,
        extra={"password": "pw-1", "payload": {"token": "t-1", "order": "ord-1"}},
    )
    logger.info("user session %(jwt)s api_key=%(key)s", {"jwt": JWT, "key": "k-2"})

    text = redacting_caplog.text
    for secret in ("sk_live_123", JWT, CARD, "k-2"):
        assert secret not in text
    first, second = redacting_caplog.records
    assert first.getMessage() == (
        "calling upayments with {'api_key': '[redacted]', 'order': 'ord-1'} using "
        "Bearer [redacted] for card ************1111"
    )
    assert first.password == REDACTED  # type: ignore[attr-defined]
    assert first.payload == {"token": REDACTED, "order": "ord-1"}  # type: ignore[attr-defined]
    assert second.getMessage() == "user session [jwt] api_key=[redacted]"


def test_exception_text_is_redacted(redacting_caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("kwq8.test")
    try:
        raise RuntimeError(f"upstream refused token {JWT}")
    except RuntimeError:
        logger.exception("verification failed")
    assert JWT not in redacting_caplog.text
    assert "upstream refused token [jwt]" in redacting_caplog.text


# Texts that made the patterns backtrack: time grew with the square of the length.
ADVERSARIAL = ["a", "token", "eyJ", "eyJ.", "eyJ-", "x-api-key", "tokentoken=", "Bearer ", "Bearer x", "1 ", "1-"]


@pytest.mark.parametrize("shape", ADVERSARIAL)
def test_redaction_takes_linear_time(shape: str) -> None:
    text = (shape * (1_000_000 // len(shape) + 1))[:1_000_000]
    started = time.perf_counter()
    redact_text(text)
    assert time.perf_counter() - started < 1.0  # a quadratic pattern needs hours for 1 MB


def test_log_records_keep_a_bounded_part_of_long_texts() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "path %s", ("/" + "token" * 200_000,), None)
    record.path = "x" * 100_000
    RedactingFilter().filter(record)
    assert len(record.msg) < MAX_LOGGED_CHARS + 100 and record.msg.endswith("more characters]")
    assert len(record.path) < MAX_LOGGED_CHARS + 100
    assert redact_text("token=abc") == f"token={REDACTED}"  # the rules themselves are unchanged
