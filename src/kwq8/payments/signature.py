"""HMAC-SHA256 signatures used by UPayments for outgoing API calls and incoming webhooks.

Both directions sign ``timestamp + METHOD + path_or_url + raw_body`` with the merchant's API
Secret Key and send the Base64 digest in ``X-Signature`` next to ``X-Timestamp`` (unix seconds):

- our requests to UPayments sign the API path relative to ``/api/v1/`` (for example ``charge``);
- UPayments' webhooks sign "POST" and the full notification URL, including ``https://``.

The timestamp tolerance is not documented by UPayments; 300 s is our choice (it bounds replays
while allowing for clock drift).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping

TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_HEADER = "X-Signature"
DEFAULT_TOLERANCE_S = 300

# ASCII digits only: str.isdigit() would also accept Arabic-Indic digits such as "١٧".
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")


class SignatureError(Exception):
    """A webhook signature could not be verified. ``reason`` is a short machine-readable code:
    ``missing_header``, ``bad_timestamp``, ``stale_timestamp``, ``future_timestamp`` or
    ``mismatch``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def sign(secret: str, timestamp: str, method: str, path_or_url: str, body: bytes) -> str:
    """Base64(HMAC-SHA256(secret, timestamp + METHOD + path_or_url + body)).

    The method is upper-cased so callers cannot produce a signature the server will not
    reproduce; the body is signed as the exact bytes sent, never a re-serialisation.
    """
    if not secret:
        raise ValueError("signing secret must not be empty")
    message = timestamp.encode("ascii") + method.upper().encode("ascii")
    message += path_or_url.encode("utf-8") + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # HTTP header names are case-insensitive, and frameworks disagree on how they store them.
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    method: str,
    full_url: str,
    raw_body: bytes,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise :class:`SignatureError` unless the webhook carries a fresh, valid signature.

    ``full_url`` must be the notification URL exactly as given to UPayments in the charge (the
    signature covers it), and ``raw_body`` the unparsed request bytes. Passing ``now`` explicitly
    keeps the check deterministic in tests.
    """
    timestamp = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    if not timestamp:
        raise SignatureError("missing_header", TIMESTAMP_HEADER)
    if not signature:
        raise SignatureError("missing_header", SIGNATURE_HEADER)
    timestamp = timestamp.strip()
    if not _TIMESTAMP_RE.fullmatch(timestamp):
        raise SignatureError("bad_timestamp", "X-Timestamp must be unix seconds")
    age = now - int(timestamp)
    if age > tolerance_s:
        raise SignatureError("stale_timestamp", f"older than {tolerance_s}s")
    if age < -tolerance_s:
        raise SignatureError("future_timestamp", f"more than {tolerance_s}s ahead")
    expected = sign(secret, timestamp, method, full_url, raw_body)
    # Compare bytes: compare_digest on str refuses non-ASCII input with a TypeError, and the
    # header is attacker-controlled.
    if not hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8")):
        raise SignatureError("mismatch", "signature does not match")
