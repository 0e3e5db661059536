"""What a customer types, turned into registrable names.

Input is normalised with IDNA 2008 and UTS-46 mapping (``idna``): Arabic and other
internationalised names become punycode, and both forms are kept. The registrable part is found
with the Public Suffix List bundled in ``publicsuffixlist`` (no network fetch), so that
``shop.example.com.kw`` gives ``example`` + ``com.kw`` and ``shop.co.uk`` gives ``shop`` + ``co.uk``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import idna
from publicsuffixlist import PublicSuffixList

MAX_FQDN = 253
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_KEYWORD = re.compile(r"[^0-9a-z\u0600-\u06ff\u0750-\u077f-]+")


class NameError_(ValueError):
    """A name that cannot be sold: ``code`` is the DOM_ error code, ``reason`` English detail."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class DomainName:
    fqdn: str  # ASCII, punycode for IDNs
    unicode: str
    sld: str  # the label bought (ASCII)
    tld: str  # the public suffix (ASCII), e.g. "com" or "com.kw"

    def as_dict(self) -> dict[str, str]:
        return {"fqdn": self.fqdn, "unicode": self.unicode, "tld": self.tld}


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def _to_ascii(text: str) -> str:
    try:
        return idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise NameError_("DOM_002", f"not a valid internationalised name ({exc.__class__.__name__})") from None


def _to_unicode(fqdn: str) -> str:
    try:
        return idna.decode(fqdn)
    except (idna.IDNAError, UnicodeError):
        return fqdn


def parse(text: str) -> DomainName:
    """A full name (``example.com``, ``مثال.com``, ``shop.co.uk``) as its registrable domain.
    Subdomains are dropped to the registrable part; names under kwq8.com are refused."""
    raw = (text or "").strip().rstrip(".")
    if not raw or len(raw) > MAX_FQDN * 4 or any(c.isspace() or ord(c) < 32 for c in raw):
        raise NameError_("DOM_002", "a domain name has no spaces or control characters")
    fqdn = _to_ascii(raw).lower()
    labels = fqdn.split(".")
    if len(fqdn) > MAX_FQDN or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise NameError_("DOM_002", "labels are letters, digits and inner hyphens, at most 63 characters each")
    suffix = _psl().publicsuffix(fqdn, accept_unknown=False)
    if suffix is None or suffix == fqdn:
        raise NameError_("DOM_003", "the name does not end in a known public suffix")
    registrable = _psl().privatesuffix(fqdn, accept_unknown=False) or fqdn
    if registrable == "kwq8.com":
        raise NameError_("DOM_002", "names under kwq8.com are not sold")
    sld = registrable[: -len(suffix) - 1]
    return DomainName(fqdn=registrable, unicode=_to_unicode(registrable), sld=sld, tld=suffix)


def parse_host(text: str) -> tuple[DomainName, str, str]:
    """A name an owner connects, which may be a subdomain (``shop.example.com``): its registrable
    domain and the full host name, ASCII and Unicode."""
    raw = (text or "").strip().rstrip(".")
    registrable = parse(raw)
    host = _to_ascii(raw).lower()
    if host != registrable.fqdn and not host.endswith("." + registrable.fqdn):
        raise NameError_("DOM_002", "not a host name under its registrable domain")
    if len(host) > MAX_FQDN or not all(_LABEL.match(label) for label in host.split(".")):
        raise NameError_("DOM_002", "labels are letters, digits and inner hyphens, at most 63 characters each")
    return registrable, host, _to_unicode(host)


def parse_query(text: str, default_tld: str) -> DomainName:
    """A search query: a full name, or a keyword (``my shop``, ``متجري``) tried under ``default_tld``."""
    raw = (text or "").strip()
    if "." in raw:
        return parse(raw)
    keyword = _KEYWORD.sub("-", raw.lower()).strip("-")
    if not keyword:
        raise NameError_("DOM_002", "type a name or a keyword")
    return parse(f"{keyword}.{default_tld}")


def candidates(name: DomainName, tlds: list[str], limit: int = 50) -> list[DomainName]:
    """The asked name first, then the same label under every configured TLD (one check call)."""
    seen = {name.fqdn}
    out = [name]
    for tld in tlds:
        fqdn = f"{name.sld}.{tld}"
        if fqdn in seen or len(fqdn) > MAX_FQDN:
            continue
        seen.add(fqdn)
        out.append(DomainName(fqdn=fqdn, unicode=_to_unicode(fqdn), sld=name.sld, tld=tld))
    return out[:limit]
