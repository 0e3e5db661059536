"""The domain jobs: register (or renew) paid orders at Namecheap exactly once, then set each
domain up (DNS at Namecheap, the Vercel project) one resumable step at a time.

Decisions live in SQL (functions/domains/orders.sql and setup.sql); this module makes the calls
and reports what came back. The registration rule, step by step:

1. ``claim_order`` leases an order (one worker at a time; a dead worker's lease runs out);
2. an order whose earlier ``domains.create`` has no known outcome is reconciled first with
   ``domains.getInfo``: in our account means registered, absent means it may be sent again;
3. ``begin_create`` commits the journal row 'submitting' before the request is sent, and
   returns nothing when another create is in flight, unresolved or done;
4. ``finish_create`` records the answer: registered, refused (refund), throttled (405: nothing
   happened) or unknown (timeout, reset, 5xx, HTML: step 2 next time).

A renewal (``domains.renew``) follows the same four steps; its reconciliation asks getInfo for
the expiry: later than the one the renewal extended (by more than RENEWED_MARGIN) means renewed.

Every Namecheap call first takes a slot of the shared budget (``take_registrar_call``, priority
'job'); a spent budget gives the work back for later.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from kwq8.domains.namecheap import TRANSIENT, Created, NamecheapClient, NamecheapError, Renewed, merge_hosts
from kwq8.domains.names import parse
from kwq8.domains.vercel import VercelClient, VercelError
from kwq8.service.db import BillingDb
from kwq8.service.errors import ServiceError

log = logging.getLogger("kwq8.domains")

# Definitive refusals of domains.create mapped to what the owner sees; others: DOM_007.
CREATE_REFUSALS = {"2030280": "DOM_001", "3019166": "DOM_001", "2019166": "DOM_001"}
# A renewal adds at least a year; our stored expiry may differ from the registrar's by a day or
# two (it is "now + years" when create gave no date). Half a year tells them apart safely.
RENEWED_MARGIN = timedelta(days=180)


@dataclass
class JobReport:
    outcomes: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"outcomes": dict(self.outcomes)}


def _budget(db: BillingDb) -> int:
    """0 when a call may be made now, else the seconds to wait."""
    taken = db.call_in("domains", "take_registrar_call", p_priority="job")
    return 0 if taken["allowed"] else int(taken["retry_after"])


def process_order(db: BillingDb, namecheap: NamecheapClient, worker: str) -> str | None:
    """Work on one order; None when no order is due."""
    job = db.call_in("domains", "claim_order", p_worker=worker)
    if job is None:
        return None
    order_id, fqdn = job["order_id"], job["fqdn"]
    wait = _budget(db)
    if wait:
        db.call_in("domains", "release_order", p_order=order_id, p_worker=worker, p_delay_s=wait, p_error=None)
        return "deferred"
    if job["action"] == "reconcile":
        try:
            info = namecheap.get_info(fqdn)
        except NamecheapError as exc:
            log.warning("getInfo failed", extra={"fqdn": fqdn, "error_kind": exc.kind, "number": exc.number})
            db.call_in(
                "domains",
                "finish_reconcile",
                p_order=order_id,
                p_worker=worker,
                p_found=None,
                p_detail={"error": exc.message[:300]},
            )
            return "reconcile_retry"
        found = info is not None
        detail: dict[str, Any] = {"domain_id": info["domain_id"]} if info else {"note": "getInfo: not in the account"}
        if job.get("command") == "renew" and info is not None:
            expires, before = info.get("expires_at"), _timestamp(job.get("expires_before"))
            found = expires is not None and before is not None and expires > before + RENEWED_MARGIN
            detail = {"domain_id": info["domain_id"], "expires_at": expires.isoformat() if expires else None}
        result = db.call_in(
            "domains", "finish_reconcile", p_order=order_id, p_worker=worker, p_found=found, p_detail=detail
        )
        log.info("registration reconciled", extra={"fqdn": fqdn, "result": result})
        return f"reconciled_{result}"

    call_id = db.call_in("domains", "begin_create", p_order=order_id, p_worker=worker)
    if call_id is None:
        return "skipped"
    premium = Decimal(str(job["premium_usd"])) if job.get("premium") and job.get("premium_usd") else None
    renewing = job.get("command") == "renew"
    outcome, detail, code, error = "unknown", {}, None, None
    try:
        answer: Created | Renewed
        if renewing:
            answer = namecheap.renew(fqdn, int(job["years"]))
            done = answer.renewed
        else:
            answer = namecheap.create(fqdn, int(job["years"]), job["contact"] or {}, premium_usd=premium)
            done = answer.registered
        if done:
            outcome = "succeeded"
            detail = {
                "domain_id": answer.domain_id,
                "order_id": answer.order_id,
                "charged_usd": str(answer.charged_usd) if answer.charged_usd is not None else None,
            }
            if isinstance(answer, Renewed) and answer.expires_at is not None:
                detail["expires_at"] = answer.expires_at.isoformat()
        else:
            outcome, code = "failed", "DOM_007"
            error = "domains.renew answered Renew=false" if renewing else "domains.create answered Registered=false"
    except NamecheapError as exc:
        error = exc.message[:500]
        detail = {"error_number": exc.number} if exc.number else {}
        if exc.kind == "throttled" or exc.account_problem:
            # 405 is refused before execution; a refused key or IP bought nothing either.
            outcome = "throttled"
        elif exc.kind == "api" and exc.number not in TRANSIENT:
            outcome, code = "failed", CREATE_REFUSALS.get(exc.number or "", "DOM_007")
        else:
            outcome = "unknown"
        level = logging.ERROR if exc.account_problem else logging.WARNING
        log.log(
            level,
            "domains.renew failed" if renewing else "domains.create failed",
            extra={"fqdn": fqdn, "error_kind": exc.kind, "number": exc.number},
        )
    result = db.call_in(
        "domains",
        "finish_create",
        p_call=call_id,
        p_worker=worker,
        p_outcome=outcome,
        p_detail=detail,
        p_error_code=code,
        p_error=error,
    )
    verb = "renew" if renewing else "create"
    log.info(f"domains.{verb} recorded", extra={"fqdn": fqdn, "outcome": outcome, "recorded": result})
    return f"{verb}_{outcome}"


def _timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value))


def _finish(db: BillingDb, job: dict[str, Any], outcome: str, **kw: Any) -> str:
    db.call_in(
        "domains",
        "finish_step",
        p_domain=job["domain_id"],
        p_step=job["step"],
        p_outcome=outcome,
        p_next=kw.get("next"),
        p_delay_s=kw.get("delay"),
        p_records=kw.get("records"),
        p_code=kw.get("code"),
        p_error=kw.get("error"),
    )
    return f"{job['step']}:{outcome}"


def _vercel_failure(db: BillingDb, job: dict[str, Any], exc: VercelError) -> str:
    if exc.status_code == 429:
        return _finish(db, job, "retry", delay=exc.retry_after or 60, error=exc.message)
    if exc.transient:
        return _finish(db, job, "retry", error=exc.message)
    if exc.status_code == 409:
        return _finish(db, job, "fail", code="DOM_009", error=exc.message)
    if exc.status_code == 403:
        return _finish(db, job, "fail", code="DOM_010", error=exc.message)
    return _finish(db, job, "retry", code="DOM_008", error=exc.message)


def process_domain(db: BillingDb, namecheap: NamecheapClient, vercel: VercelClient, worker: str) -> str | None:
    """Advance one domain by one step; None when no domain is due."""
    job = db.call_in("domains", "claim_domain", p_worker=worker)
    if job is None:
        return None
    try:
        return _advance(db, namecheap, vercel, job)
    except ServiceError as exc:
        if exc.code != "DOM_014":
            raise
        # The owner removed the domain while its step ran: nothing is left to record.
        log.info("domain removed during its setup step", extra={"fqdn": job["fqdn"], "step": job["step"]})
        return f"{job['step']}:removed"


def _advance(db: BillingDb, namecheap: NamecheapClient, vercel: VercelClient, job: dict[str, Any]) -> str:
    fqdn, step = job["fqdn"], job["step"]
    try:
        if step == "dns_hosts":
            name = parse(fqdn)
            if _budget(db):
                return _finish(db, job, "retry", delay=5, error="registrar budget spent")
            hosts = namecheap.get_hosts(name.sld, name.tld)
            cname = vercel.get_config(fqdn).cname
            if _budget(db):
                return _finish(db, job, "retry", delay=5, error="registrar budget spent")
            if not namecheap.set_hosts(name.sld, name.tld, merge_hosts(hosts, cname)):
                return _finish(db, job, "retry", code="DOM_008", error="setHosts answered IsSuccess=false")
            return _finish(db, job, "next", next="vercel_add")
        if step == "vercel_add":
            try:
                added = vercel.add_domain(fqdn)
            except VercelError as exc:
                if exc.status_code == 400 and exc.code == "domain_already_exists":
                    added = vercel.get_domain(fqdn)
                else:
                    raise
            return _finish(db, job, "next", next="vercel_verify", records=added.owner_records())
        if step == "vercel_verify":
            verified = vercel.verify(fqdn)
            if not verified.verified:
                return _finish(db, job, "retry", code="DOM_011", error="not verified yet")
            return _finish(db, job, "next", next="vercel_config", records=[])
        if step == "vercel_config":
            if vercel.get_config(fqdn).misconfigured:
                return _finish(db, job, "retry", code="DOM_011", error="DNS not in place yet")
            return _finish(db, job, "next", next="done")
        if step == "await_records":
            try:
                verified = vercel.verify(fqdn).verified
            except VercelError as exc:
                if exc.status_code != 400:
                    raise
                verified = False
            if not verified or vercel.get_config(fqdn).misconfigured:
                return _finish(db, job, "retry", code="DOM_011", error="the owner's records are not in place yet")
            return _finish(db, job, "next", next="done")
    except VercelError as exc:
        log.warning("vercel call failed", extra={"fqdn": fqdn, "step": step, "status_code": exc.status_code})
        return _vercel_failure(db, job, exc)
    except NamecheapError as exc:
        log.warning("namecheap dns call failed", extra={"fqdn": fqdn, "error_kind": exc.kind, "number": exc.number})
        return _finish(db, job, "retry", code="DOM_008", error=exc.message)
    return _finish(db, job, "fail", code="DOM_008", error=f"unknown step {step}")


def run_once(
    db: BillingDb, namecheap: NamecheapClient, vercel: VercelClient | None, worker: str, *, limit: int = 50
) -> JobReport:
    """Registration first (it has priority over everything else), then the setup steps."""
    report = JobReport()
    for _ in range(limit):
        outcome = process_order(db, namecheap, worker)
        if outcome is None:
            break
        report.outcomes[outcome] += 1
    if vercel is not None:
        for _ in range(limit):
            outcome = process_domain(db, namecheap, vercel, worker)
            if outcome is None:
                break
            report.outcomes[outcome] += 1
    return report
