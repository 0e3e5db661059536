"""Errors of the billing service, answered as the Data API answers them: the HTTP status of the
catalogued code and ``{code, message (Arabic), details (English), hint}``.

Codes and texts come from ``public.error_codes`` (loaded once from the database); the few the
service may need before the database answers have a built-in fallback.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CatalogueEntry:
    http_status: int
    message_ar: str
    message_en: str


# Used only while the database catalogue cannot be read (it is the source of truth).
_FALLBACK = {
    "SYS_001": CatalogueEntry(500, "حدث خطأ غير متوقع", "Internal error"),
    "SYS_002": CatalogueEntry(503, "الخدمة غير متاحة مؤقتاً", "Service temporarily unavailable"),
    "REQ_001": CatalogueEntry(413, "حجم الطلب كبير جداً", "Request too large"),
}


class ServiceError(Exception):
    """A failure to answer with a catalogued code. ``details`` is English and safe to return."""

    def __init__(
        self,
        code: str,
        details: str | None = None,
        hint: str | None = None,
        *,
        status: int | None = None,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {details}" if details else code)
        self.code = code
        self.details = details
        self.hint = hint
        self.status = status
        self.message = message
        self.headers = headers or {}


class ErrorCatalogue:
    """public.error_codes, loaded lazily by ``loader`` and cached for the process."""

    def __init__(self, loader: Callable[[], dict[str, CatalogueEntry]]) -> None:
        self._loader = loader
        self._entries: dict[str, CatalogueEntry] | None = None
        self._lock = threading.Lock()

    def get(self, code: str) -> CatalogueEntry:
        entries = self._load()
        return entries.get(code) or _FALLBACK.get(code) or _FALLBACK["SYS_001"]

    def _load(self) -> dict[str, CatalogueEntry]:
        if self._entries is not None:
            return self._entries
        with self._lock:
            if self._entries is None:
                try:
                    self._entries = self._loader()
                except Exception as exc:  # the database is down: answer with the fallback, retry later
                    log.warning("error catalogue unavailable (%s)", type(exc).__name__)
                    return dict(_FALLBACK)
            return self._entries

    def response(self, error: ServiceError) -> JSONResponse:
        entry = self.get(error.code)
        status = error.status or entry.http_status
        message = error.message or entry.message_ar
        details = error.details
        if details is None:
            details = entry.message_en
        elif not details.startswith(entry.message_en):
            details = f"{entry.message_en}: {details}"
        body: dict[str, Any] = {"code": error.code, "message": message, "details": details, "hint": error.hint}
        return JSONResponse(body, status_code=status, headers=error.headers)
