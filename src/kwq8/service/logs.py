"""Structured logs: one JSON object per line, with API keys, secrets, tokens, JWTs and card
numbers masked by :class:`kwq8.service.redact.RedactingFilter` on the handler itself (so records
propagated from any library logger are redacted too)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from kwq8.service.redact import RedactingFilter, redact

# uvicorn's `color_message` repeats `msg` with ANSI colour codes for terminals: not for JSON lines.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(redact(entry), ensure_ascii=False, default=str)


def configure_logging(stream: IO[str] | None = None, level: str | int = "INFO", logger: str = "") -> logging.Handler:
    """Send ``logger``'s records (the root by default) to ``stream`` as redacted JSON lines.
    Returns the handler, so a caller (a test) can remove it again."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    target = logging.getLogger(logger)
    target.addHandler(handler)
    target.setLevel(level if isinstance(level, int) else level.upper())
    return handler
