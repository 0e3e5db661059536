"""Domain search, shared by ``POST /domains/search`` and ``kwq8 domains search``: the asked name
and its suggestions in one ``domains.check`` call (cached 60 s in Postgres), the price list from
``users.getPricing`` (cached a day), prices in KWD from SQL. Each Namecheap call takes a slot of
the shared budget at search priority; a spent budget is DOM_005 with the seconds to wait."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from kwq8.domains.namecheap import NamecheapClient, NamecheapError
from kwq8.domains.names import DomainName, NameError_, candidates, parse_query
from kwq8.service.db import BillingDb
from kwq8.service.errors import ServiceError


def _take(db: BillingDb) -> None:
    taken = db.call_in("domains", "take_registrar_call", p_priority="search")
    if not taken["allowed"]:
        wait = str(taken["retry_after"])
        raise ServiceError(
            "DOM_005", "the Namecheap request budget is spent", f"try again in {wait} s", headers={"Retry-After": wait}
        )


def _registrar_error(exc: NamecheapError) -> ServiceError:
    if exc.kind in ("throttled", "html"):
        return ServiceError("DOM_005", "Namecheap is throttling", "try again in 60 s", headers={"Retry-After": "60"})
    return ServiceError("DOM_006", f"Namecheap {exc.kind} error {exc.number or ''}".strip())


def refresh(db: BillingDb, namecheap: NamecheapClient, names: list[DomainName], *, force: list[str] = ()) -> None:
    """Ask Namecheap about the names without a fresh answer (and ``force``), and the prices when stale."""
    state = db.call_in("domains", "search_state", p_names=[n.fqdn for n in names])
    unchecked = sorted(set(state["unchecked"]) | set(force))
    try:
        if unchecked:
            _take(db)
            answers = namecheap.check(unchecked)
            db.call_in("domains", "record_availability", p_results=[a.as_dict() for a in answers])
    except NamecheapError as exc:
        raise _registrar_error(exc) from None
    if state["pricing_stale"]:
        refresh_prices(db, namecheap, "register")


def refresh_prices(db: BillingDb, namecheap: NamecheapClient, action: Literal["register", "renew"]) -> None:
    """users.getPricing for one action, within the search share of the budget."""
    _take(db)
    try:
        prices = namecheap.prices(action)
    except NamecheapError as exc:
        raise _registrar_error(exc) from None
    db.call_in("domains", "record_pricing", p_prices=prices)


def search(
    db: BillingDb, namecheap: NamecheapClient, query: str, *, years: int, rate: Decimal, margin: Decimal
) -> dict[str, Any]:
    settings = db.call_in("domains", "search_state", p_names=[])
    tlds: list[str] = list(settings["tlds"])
    try:
        asked = parse_query(query, tlds[0])
    except NameError_ as exc:
        raise ServiceError(exc.code, exc.reason) from None
    if asked.tld not in tlds:
        raise ServiceError("DOM_003", f".{asked.tld} is not sold here")
    names = candidates(asked, tlds)
    refresh(db, namecheap, names)
    results = db.call_in(
        "domains",
        "search_results",
        p_names=[n.as_dict() for n in names],
        p_years=years,
        p_rate=rate,
        p_margin=margin,
    )
    return {"query": asked.as_dict(), "results": results}
