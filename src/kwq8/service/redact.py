"""Mask secrets before they reach logs: API keys, passwords, tokens, JWTs, card numbers.

- values under a sensitive key (api_key, secret, password, token, authorization, signature,
  card, pan, cvv...) become ``[redacted]``, in dicts and in ``key=value`` / ``"key": "value"``
  text;
- JWT-looking strings (``eyJ...`` with three base64url segments) become ``[jwt]``;
- ``Bearer <anything>`` becomes ``Bearer [redacted]``;
- runs of 13-19 digits (optionally grouped with spaces or dashes) keep only their last 4 digits.

The card rule is deliberately blunt: it also masks long numeric ids such as K-Net payment ids.
Losing a few digits of an id in a log line is cheap; a logged card number is a PCI incident.

Attach :class:`RedactingFilter` to handlers (a logger's own filters do not see records
propagated from child loggers).
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"
JWT_MASK = "[jwt]"
_MAX_DEPTH = 32

# Long words are matched anywhere in a key ("refresh_token", "jwtSecret"); short ones only as a
# whole word, so that "company", "expand" or "discard" are not taken for "pan" and "card".
_SENSITIVE_SUBSTRINGS = ("secret", "password", "passwd", "token", "authorization", "signature")
_SENSITIVE_WORDS = frozenset({"apikey", "card", "cardnumber", "pan", "cvv", "cvc", "cvv2"})
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_SPLIT_RE = re.compile(r"[^A-Za-z0-9]+")

# Every pattern runs in time linear in the text, whatever it holds (a log line may quote a
# request path or field of any length an attacker chooses): a match may start only where a run
# of its characters starts (a lookbehind refuses the positions inside a run), and runs are
# taken possessively (`*+`, `++`), so a failed attempt never re-reads a run from another start.
_BEARER_RE = re.compile(r"\b(Bearer)\s++(?!\[redacted\])[^\s\"',;]++", re.IGNORECASE)
_JWT_RE = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]*+\.[A-Za-z0-9_-]++\.[A-Za-z0-9_-]*+")
_CARD_RE = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
# key=value, key: value, "key": "value", 'key': 'value' and ?key=value inside free text. The key
# is a whole run of name characters that contains a sensitive word (the lookahead stops at the
# run's end).
_KEY_VALUE_RE = re.compile(
    r"(?<![A-Za-z0-9_.-])"
    r"(?P<key>(?=[A-Za-z0-9_.-]*?"
    r"(?:api[_-]?key|apikey|secret|passw(?:or)?d|token|authorization|signature|cvv|cvc))"
    r"[A-Za-z0-9_.-]++)"
    r"(?P<sep>[\"']?\s*+[:=]\s*+[\"']?)"
    r"(?!Bearer\b|\[redacted\]|\[jwt\])"
    r"(?P<value>[^\s\"',;&}]++)",
    re.IGNORECASE,
)
# A log line keeps at most this much of any one text: enough for every message the service
# writes, and a bound on what one request can make the logger do.
MAX_LOGGED_CHARS = 4096


def is_sensitive_key(key: object) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    if any(part in lowered for part in _SENSITIVE_SUBSTRINGS):
        return True
    words = [w.lower() for w in _WORD_SPLIT_RE.split(_CAMEL_RE.sub("_", key)) if w]
    if any(w in _SENSITIVE_WORDS for w in words):
        return True
    # "api_key", "apiKey", "X-Api-Key"
    return any(pair == ("api", "key") for pair in itertools.pairwise(words))


def _mask_card(match: re.Match[str]) -> str:
    text = match.group(0)
    digits_seen = 0
    total = sum(c.isdigit() for c in text)
    out = []
    for char in text:
        if char.isdigit():
            digits_seen += 1
            out.append(char if digits_seen > total - 4 else "*")
        else:
            out.append(char)
    return "".join(out)


_KEY_WORDS = ("api", "key", "secret", "passw", "token", "authorization", "signature", "cvv", "cvc")
_DIGIT_RE = re.compile(r"[0-9]")


def redact_text(text: str) -> str:
    """Mask bearer tokens, JWTs, ``key=value`` secrets and card numbers inside free text."""
    # Each pattern runs only when the text holds what it must start with: a substring test is
    # far cheaper than a scan, and most texts hold none of them.
    lowered = text.lower()
    if "bearer" in lowered:
        text = _BEARER_RE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if "eyJ" in text:
        text = _JWT_RE.sub(JWT_MASK, text)
    if any(word in lowered for word in _KEY_WORDS):
        text = _KEY_VALUE_RE.sub(lambda m: f"{m.group('key')}{m.group('sep')}{REDACTED}", text)
    if _DIGIT_RE.search(text):
        text = _CARD_RE.sub(_mask_card, text)
    return text


def clip(value: Any, limit: int = MAX_LOGGED_CHARS) -> Any:
    """A string cut to ``limit`` characters, saying how much was left out; anything else as is."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}...[{len(value) - limit} more characters]"
    return value


def redact(obj: Any, _depth: int = 0) -> Any:
    """Return a copy of ``obj`` with secrets masked; dicts, lists and tuples are walked.

    Other objects are returned unchanged (their ``repr`` is not ours to rewrite); log them as
    dicts or rely on :class:`RedactingFilter`, which also masks the formatted message.
    """
    if _depth > _MAX_DEPTH:
        return "[truncated]"
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, bytes | bytearray):
        return redact_text(bytes(obj).decode("utf-8", errors="replace"))
    if isinstance(obj, Mapping):
        return {
            key: (REDACTED if value is not None else None) if is_sensitive_key(key) else redact(value, _depth + 1)
            for key, value in obj.items()
        }
    if isinstance(obj, list):
        return [redact(item, _depth + 1) for item in obj]
    if isinstance(obj, tuple):
        return tuple(redact(item, _depth + 1) for item in obj)
    return obj


# Attributes every LogRecord has; anything else arrived through ``extra=``.
_STANDARD_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class RedactingFilter(logging.Filter):
    """Redact a record in place: its arguments, formatted message, ``extra`` fields and
    exception text. Never drops a record."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            record.args = redact(record.args)
        elif isinstance(record.args, tuple):
            record.args = tuple(redact(arg) for arg in record.args)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as usual
            return True
        # Freeze the redacted text so handlers do not format the original arguments again.
        record.msg = redact_text(clip(message))
        record.args = None
        for name, value in list(vars(record).items()):
            if name in _STANDARD_RECORD_ATTRS:
                continue
            setattr(record, name, REDACTED if is_sensitive_key(name) else redact(clip(value)))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        return True
