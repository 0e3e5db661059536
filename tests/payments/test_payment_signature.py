"""UPayments HMAC signatures: known vectors and webhook verification failures."""

from __future__ import annotations

import pytest

from kwq8.payments.signature import SignatureError, sign, verify_webhook

SECRET = "whsec"
URL = "https://kwq8.com/hooks/upayments?x=1"
BODY = b'{"result":"CAPTURED"}'
NOW = 1_700_000_000


def _headers(timestamp: int = NOW, *, secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    ts = str(timestamp)
    return {"X-Timestamp": ts, "X-Signature": sign(secret, ts, "POST", URL, body)}


def test_sign_matches_vectors_computed_with_openssl() -> None:
    # printf '1700000000POSTchargebody' | openssl dgst -sha256 -hmac secret -binary | base64
    assert sign("secret", "1700000000", "POST", "charge", b"body") == ("vHbmzJg89/EU8ZBlZwoldQAGlSQ1g1SLh7uV7QrS4IE=")
    assert sign(SECRET, "1700000000", "POST", URL, BODY) == ("YIB0bCQybN0DjJwwPdSVtoe/L1yz/UfmcfJ2sK74xos=")


def test_sign_uppercases_the_method_and_rejects_an_empty_secret() -> None:
    assert sign("s", "1", "post", "charge", b"") == sign("s", "1", "POST", "charge", b"")
    assert sign("s", "1", "GET", "charge", b"") != sign("s", "1", "POST", "charge", b"")
    with pytest.raises(ValueError):
        sign("", "1", "POST", "charge", b"")


def test_valid_webhook_passes_with_any_header_case() -> None:
    verify_webhook(SECRET, _headers(), "POST", URL, BODY, now=NOW)
    lower = {k.lower(): v for k, v in _headers().items()}
    verify_webhook(SECRET, lower, "POST", URL, BODY, now=NOW + 299)


@pytest.mark.parametrize(
    ("secret", "url", "body"),
    [
        (SECRET, URL, b'{"result":"NOT CAPTURED"}'),  # tampered body
        ("other-secret", URL, BODY),  # wrong secret
        (SECRET, "https://kwq8.com/hooks/upayments", BODY),  # different notification URL
        (SECRET, URL.replace("https://", "http://"), BODY),  # scheme is part of the signed URL
    ],
)
def test_mismatch_is_rejected(secret: str, url: str, body: bytes) -> None:
    with pytest.raises(SignatureError) as info:
        verify_webhook(secret, _headers(), "POST", url, body, now=NOW)
    assert info.value.reason == "mismatch"


def test_stale_and_future_timestamps_are_rejected() -> None:
    with pytest.raises(SignatureError) as stale:
        verify_webhook(SECRET, _headers(NOW - 301), "POST", URL, BODY, now=NOW)
    assert stale.value.reason == "stale_timestamp"
    with pytest.raises(SignatureError) as future:
        verify_webhook(SECRET, _headers(NOW + 301), "POST", URL, BODY, now=NOW)
    assert future.value.reason == "future_timestamp"
    # Inside a custom tolerance the same delivery is fine.
    verify_webhook(SECRET, _headers(NOW - 301), "POST", URL, BODY, now=NOW, tolerance_s=600)


@pytest.mark.parametrize("missing", ["X-Timestamp", "X-Signature"])
def test_missing_headers_are_rejected(missing: str) -> None:
    headers = _headers()
    del headers[missing]
    with pytest.raises(SignatureError) as info:
        verify_webhook(SECRET, headers, "POST", URL, BODY, now=NOW)
    assert info.value.reason == "missing_header"
    assert missing in str(info.value)


@pytest.mark.parametrize("timestamp", ["abc", "1.7e9", "-1700000000", "١٧٠٠٠٠٠٠٠٠", ""])
def test_non_numeric_timestamps_are_rejected(timestamp: str) -> None:
    headers = {"X-Timestamp": timestamp, "X-Signature": "anything"}
    with pytest.raises(SignatureError) as info:
        verify_webhook(SECRET, headers, "POST", URL, BODY, now=NOW)
    assert info.value.reason in {"bad_timestamp", "missing_header"}
    if timestamp:
        assert info.value.reason == "bad_timestamp"


def test_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    headers = {"X-Timestamp": str(NOW), "X-Signature": "تواقيع"}
    with pytest.raises(SignatureError) as info:
        verify_webhook(SECRET, headers, "POST", URL, BODY, now=NOW)
    assert info.value.reason == "mismatch"
