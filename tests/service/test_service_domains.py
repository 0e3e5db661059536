"""The domain routes of the billing service end to end: search, checkout paid through the
UPayments path and registered by the job, an owner's own domain connected and verified (or
failed at its deadline), renewal, move and removal. The fakes' own records of calls are the oracle."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

import httpx
import pytest

from kwq8.domains.config import DomainSettings
from kwq8.domains.fake_namecheap import FakeNamecheap
from kwq8.domains.fake_vercel import FakeVercel
from kwq8.domains.namecheap import NamecheapClient
from kwq8.domains.vercel import VercelClient
from kwq8.domains.worker import run_once
from kwq8.payments.fake_upayments import FakeUPayments
from kwq8.postgrest import Identity
from kwq8.service.db import BillingDb
from kwq8.testing.database import TestDatabase

from ..domain_helpers import CONTACT, namecheap_config, vercel_config
from ..payment_helpers import pay
from ..service_helpers import Service, start_service, stop_service

pytest_plugins = ("tests.service_fixtures",)

RATE = Decimal("0.307")
MARGIN = Decimal("1.20")


@dataclass
class Domains:
    service: Service
    namecheap: FakeNamecheap
    vercel: FakeVercel
    billing: BillingDb
    # Its own client address (behind one trusted proxy): the per-IP counters live in the database
    # the service tests share, and must not fill up for the other tests' services.
    ip: str = "198.51.100.14"

    @property
    def db(self) -> TestDatabase:
        return self.service.db

    def post(self, path: str, user: Identity | None, body: dict[str, Any], **headers: str) -> httpx.Response:
        auth = self.service.auth(user) if user else {}
        return self.service.http.post(
            self.service.origin + path, json=body, headers={**auth, "X-Forwarded-For": self.ip, **headers}
        )

    def get(self, path: str, user: Identity) -> httpx.Response:
        return self.service.http.get(self.service.origin + path, headers=self._headers(user))

    def delete(self, path: str, user: Identity) -> httpx.Response:
        return self.service.http.delete(self.service.origin + path, headers=self._headers(user))

    def _headers(self, user: Identity) -> dict[str, str]:
        return {**self.service.auth(user), "X-Forwarded-For": self.ip}

    def owner(self, projects: int = 1) -> tuple[Identity, list[str]]:
        user = self.db.create_user(f"{uuid.uuid4().hex[:8]}@example.kw")
        if projects > 1:
            pay(self.db, user, "pro")  # more than one active project needs a plan
        ids = []
        for _ in range(projects):
            slug = "s" + uuid.uuid4().hex[:10]
            ids.append(
                str(
                    self.db.scalar(
                        "insert into public.projects (user_id, name, slug, subdomain) values (%s, 'Shop', %s, %s)"
                        " returning id",
                        (user.user_id, slug, slug),
                    )
                )
            )
        self.billing.call_in("domains", "set_contact", p_user=user.user_id, p_contact=CONTACT)
        return user, ids

    def pay(self, order_id: str) -> None:
        """The customer pays: UPayments captures, and its webhook reaches the service."""
        track = self.service.track_id(order_id)
        self.service.fake.set_outcome(track, "CAPTURED")
        delivered = self.service.deliver(self.service.webhook(track))
        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["outcome"] == "applied"

    def run_jobs(self, rounds: int = 30, until: str | None = None) -> None:
        """`kwq8 jobs domains`, as the scheduler runs it, until nothing is due (or ``until`` holds)."""
        with NamecheapClient(namecheap_config(self.namecheap)) as nc, VercelClient(vercel_config(self.vercel)) as vc:
            for _ in range(rounds):
                report = run_once(self.billing, nc, vc, "svc-test")
                if until and self.db.scalar(until):
                    return
                if not report.outcomes:
                    if until is None:
                        return
                    time.sleep(0.05)


@pytest.fixture(scope="module")
def domains(billing_db: TestDatabase, fake_upayments: FakeUPayments) -> Iterator[Domains]:
    billing_db.sql(
        "update domains.settings set calls_per_minute = 100000, calls_per_hour = 100000, calls_per_day = 100000,"
        " backoff_base = interval '10 milliseconds'"
    )
    with FakeNamecheap() as namecheap, FakeVercel() as vercel:
        vercel.resolver = namecheap.dns
        settings = DomainSettings(
            namecheap=namecheap_config(namecheap),
            vercel=vercel_config(vercel),
            usd_kwd_rate=RATE,
            margin=MARGIN,
        )
        running = start_service(
            billing_db,
            fake_upayments,
            domains=settings,
            rate_ip_per_window=100_000,
            rate_checkout_per_user=1000,
            rate_domain_search_per_user=1000,
            trusted_proxy_hops=1,
        )
        billing = BillingDb(billing_db.url("postgres"), pool_size=4)
        billing.open()
        try:
            yield Domains(service=running, namecheap=namecheap, vercel=vercel, billing=billing)
        finally:
            billing.close()
            stop_service(running)


@pytest.fixture
def dom(domains: Domains) -> Domains:
    domains.service.fake.reset()
    domains.namecheap.reset()
    domains.vercel.reset()
    domains.vercel.resolver = domains.namecheap.dns
    return domains


def kwd(usd: str) -> str:
    step = Decimal("0.250")
    price = (Decimal(usd) * RATE * MARGIN / step).to_integral_value(rounding=ROUND_CEILING) * step
    return f"{price:.3f}"


def error(response: httpx.Response, code: str, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["message"] and not body["message"].isascii()  # the Arabic message of the catalogue
    return body


# ---------------------------------------------------------------------------------- configuration


def test_domain_routes_answer_503_when_unconfigured_and_billing_keeps_working(
    service: Service, customer: Identity
) -> None:
    for path, body in (
        ("/domains/search", {"query": "kuwait shop"}),
        ("/domains/checkout", {"project_id": str(uuid.uuid4()), "fqdn": "kuwait-shop.com"}),
        ("/domains/renew", {"fqdn": "kuwait-shop.com"}),
        ("/domains/connect", {"project_id": str(uuid.uuid4()), "fqdn": "kuwait-shop.com"}),
    ):
        headers = {**service.auth(customer), "X-Forwarded-For": "198.51.100.15"}
        response = service.http.post(service.origin + path, json=body, headers=headers)
        answer = error(response, "DOM_013", 503)
        assert "NAMECHEAP" not in answer["details"] and "VERCEL" not in answer["details"]
    assert service.checkout(customer, "basic", "knet").status_code == 201
    assert service.http.get(service.origin + "/healthz").json() == {"status": "ok"}


def test_domain_routes_need_a_signed_in_user(dom: Domains) -> None:
    error(dom.post("/domains/search", None, {"query": "kuwait shop"}), "AUTH_004", 401)
    assert dom.namecheap.calls == []


# ------------------------------------------------------------------------------------------ search


def test_search_checks_every_suggestion_in_one_call_and_caches_the_answers(dom: Domains) -> None:
    user, _ = dom.owner()
    dom.namecheap.taken.add("kuwait-shop.com")
    first = dom.post("/domains/search", user, {"query": "Kuwait Shop"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["query"]["fqdn"] == "kuwait-shop.com"
    rows = {r["fqdn"]: r for r in body["results"]}
    assert rows["kuwait-shop.com"]["available"] is False and rows["kuwait-shop.com"]["price_kwd"] is None
    assert rows["kuwait-shop.net"]["price_kwd"] == kwd("12.98") and rows["kuwait-shop.store"]["available"]
    assert len(rows) == 8
    checks = [c for c in dom.namecheap.calls if c.command == "namecheap.domains.check"]
    assert len(checks) == 1 and len(checks[0].params["DomainList"].split(",")) == 8
    again = dom.post("/domains/search", user, {"query": "kuwait-shop.com"})
    assert again.status_code == 200
    assert len([c for c in dom.namecheap.calls if c.command == "namecheap.domains.check"]) == 1  # 60 s cache

    arabic = dom.post("/domains/search", user, {"query": "متجر.com"}).json()
    assert arabic["query"]["fqdn"].startswith("xn--") and arabic["query"]["unicode"] == "متجر.com"
    error(dom.post("/domains/search", user, {"query": "shop.kwq8.com"}), "DOM_002", 400)
    error(dom.post("/domains/search", user, {"query": "shop.co.uk"}), "DOM_003", 400)


# ---------------------------------------------------------------------------- checkout and payment


def test_checkout_pays_through_upayments_and_the_job_registers_and_connects(dom: Domains) -> None:
    user, [project] = dom.owner()
    body = {"project_id": project, "fqdn": "Bayt-Kuwait.com", "years": 2, "payment_method": "knet"}
    response = dom.post("/domains/checkout", user, body, **{"Idempotency-Key": "dom-key-1"})
    assert response.status_code == 201, response.text
    view = response.json()
    assert view["purpose"] == "domain" and view["status"] == "pending" and view["payment_url"]
    assert view["amount_kwd"] == kwd("21.96") == view["quote"]["price_kwd"]  # 2 x 10.98 USD
    assert view["quote"]["fqdn"] == "bayt-kuwait.com" and view["quote"]["years"] == 2
    # Availability was asked again for the name itself, whatever the cache held.
    assert [c.params["DomainList"] for c in dom.namecheap.calls if c.command == "namecheap.domains.check"] == [
        "bayt-kuwait.com"
    ]
    [charge] = dom.service.fake.charges
    sent = charge.json()
    assert sent["order"]["amount"] == Decimal(view["amount_kwd"]) and "bayt-kuwait.com" in sent["order"]["description"]

    replay = dom.post("/domains/checkout", user, body, **{"Idempotency-Key": "dom-key-1"})
    assert replay.status_code == 200 and replay.json()["order_id"] == view["order_id"]
    assert len(dom.service.fake.charges) == 1  # no second charge

    dom.run_jobs()
    assert dom.namecheap.creates() == []  # nothing is registered before the payment is captured
    dom.pay(view["order_id"])
    dom.run_jobs(until="select count(*) from public.domains where fqdn = 'bayt-kuwait.com' and status = 'active'")
    assert len(dom.namecheap.creates("bayt-kuwait.com")) == 1 and len(dom.namecheap.creates(succeeded=False)) == 1
    status = dom.get("/domains/bayt-kuwait.com", user)
    assert status.status_code == 200
    answer = status.json()
    assert (answer["status"], answer["step"], answer["project_id"]) == ("active", "done", project)
    assert answer["order"]["state"] == "registered" and answer["verified_at"]
    assert "bayt-kuwait.com" in dom.vercel.domains
    assert dom.db.sql("select * from domains.audit_domains()") == []


def test_checkout_refuses_what_cannot_be_sold(dom: Domains) -> None:
    user, [project] = dom.owner()
    stranger, [other] = dom.owner()
    dom.namecheap.taken.add("taken-name.com")
    error(dom.post("/domains/checkout", user, {"project_id": project, "fqdn": "taken-name.com"}), "DOM_001", 409)
    error(dom.post("/domains/checkout", user, {"project_id": other, "fqdn": "free-name.com"}), "DOM_014", 404)
    error(dom.post("/domains/checkout", user, {"project_id": project, "fqdn": "shop.free-name.com"}), "DOM_002", 400)
    error(dom.post("/domains/checkout", user, {"project_id": project, "fqdn": "free-name.co.uk"}), "DOM_003", 400)
    error(dom.post("/domains/checkout", user, {"project_id": project, "fqdn": "x" * 70 + ".com"}), "DOM_002", 400)
    assert dom.service.fake.charges == []
    assert dom.db.scalar("select count(*) from public.domain_orders where user_id = %s", (user.user_id,)) == 0
    del stranger


# ---------------------------------------------------------------------------- bring your own domain


def test_an_owners_own_domain_is_verified_once_its_records_exist(dom: Domains) -> None:
    user, [project] = dom.owner()
    dom.vercel.needs_txt.add("my-own.shop")
    response = dom.post("/domains/connect", user, {"project_id": project, "fqdn": "My-Own.shop"})
    assert response.status_code == 201, response.text
    answer = response.json()
    assert (answer["status"], answer["step"], answer["origin"]) == ("verifying", "await_records", "connected")
    records = {(r["type"], r["name"]) for r in answer["records"]}
    assert records == {("TXT", "_vercel.my-own.shop"), ("A", "my-own.shop")}
    assert answer["verify_deadline"]
    deadline = dom.db.scalar("select verify_deadline - created_at from public.domains where fqdn = 'my-own.shop'")
    assert deadline.days == 7
    dom.db.sql("update public.domains set next_check_at = now() where fqdn = 'my-own.shop'")
    dom.run_jobs()
    pending = dom.get("/domains/my-own.shop", user).json()
    assert (pending["step"], pending["error_code"]) == ("await_records", "DOM_011")  # nothing created yet

    txt = next(r for r in answer["records"] if r["type"] == "TXT")
    dom.vercel.external_dns["_vercel.my-own.shop"] = [("TXT", txt["value"])]
    dom.vercel.external_dns["my-own.shop"] = [("A", "76.76.21.21")]
    dom.db.sql("update public.domains set next_check_at = now() where fqdn = 'my-own.shop'")
    dom.run_jobs()
    done = dom.get("/domains/my-own.shop", user).json()
    assert (done["status"], done["step"]) == ("active", "done") and done["verified_at"]
    assert [c.route for c in dom.vercel.calls].count("add") == 1
    assert dom.db.sql("select * from domains.audit_domains()") == []


def test_a_subdomain_gets_a_cname_and_a_domain_without_records_fails_at_its_deadline(dom: Domains) -> None:
    user, [project] = dom.owner()
    answer = dom.post("/domains/connect", user, {"project_id": project, "fqdn": "shop.late-owner.net"}).json()
    assert answer["records"] == [{"type": "CNAME", "name": "shop.late-owner.net", "value": "cname.vercel-dns-0.com"}]
    # Seven days later, still nothing at the owner's DNS.
    dom.db.sql(
        "update public.domains set verify_deadline = now() - interval '1 second', next_check_at = now()"
        " where fqdn = 'shop.late-owner.net'"
    )
    dom.run_jobs()
    failed = dom.get("/domains/shop.late-owner.net", user).json()
    assert (failed["status"], failed["step"], failed["error_code"]) == ("failed", "failed", "DOM_012")


def test_vercel_refusals_become_arabic_errors_and_store_nothing(dom: Domains) -> None:
    user, [project] = dom.owner()
    dom.vercel.other_project.add("elsewhere.com")
    dom.vercel.other_team.add("their-team.com")
    error(dom.post("/domains/connect", user, {"project_id": project, "fqdn": "elsewhere.com"}), "DOM_009", 409)
    error(dom.post("/domains/connect", user, {"project_id": project, "fqdn": "their-team.com"}), "DOM_010", 403)
    dom.vercel.fail_next("add", 429, retry_after=7)
    limited = dom.post("/domains/connect", user, {"project_id": project, "fqdn": "busy.com"})
    error(limited, "DOM_005", 503)
    assert limited.headers["retry-after"] == "7"
    dom.vercel.fail_next("add", 500)
    error(dom.post("/domains/connect", user, {"project_id": project, "fqdn": "broken.com"}), "DOM_008", 502)
    assert dom.db.scalar("select count(*) from public.domains where project_id = %s", (project,)) == 0
    # A name already on a KWq8 site is refused before Vercel is asked.
    assert dom.post("/domains/connect", user, {"project_id": project, "fqdn": "mine.com"}).status_code == 201
    other, [their_project] = dom.owner()
    adds = len(dom.vercel.calls)
    error(dom.post("/domains/connect", other, {"project_id": their_project, "fqdn": "mine.com"}), "DOM_009", 409)
    assert len(dom.vercel.calls) == adds


# --------------------------------------------------------------------------------- move and remove


def test_an_owner_moves_and_removes_a_domain_and_nobody_else_can(dom: Domains) -> None:
    user, [first, second] = dom.owner(projects=2)
    stranger, [theirs] = dom.owner()
    assert dom.post("/domains/connect", user, {"project_id": first, "fqdn": "moving.org"}).status_code == 201
    moved = dom.post("/domains/move", user, {"fqdn": "moving.org", "project_id": second})
    assert moved.status_code == 200 and moved.json()["project_id"] == second
    error(dom.post("/domains/move", user, {"fqdn": "moving.org", "project_id": theirs}), "DOM_014", 404)
    error(dom.post("/domains/move", stranger, {"fqdn": "moving.org", "project_id": theirs}), "DOM_014", 404)
    error(dom.get("/domains/moving.org", stranger), "DOM_014", 404)

    error(dom.delete("/domains/moving.org", stranger), "DOM_014", 404)
    assert "moving.org" in dom.vercel.domains and not [c for c in dom.vercel.calls if c.route == "delete"]
    dom.vercel.fail_next("delete", 500)
    error(dom.delete("/domains/moving.org", user), "DOM_008", 502)
    assert dom.db.scalar("select count(*) from public.domains where fqdn = 'moving.org'") == 1  # kept
    removed = dom.delete("/domains/moving.org", user)
    assert removed.status_code == 200 and removed.json()["removed"] is True
    assert "moving.org" not in dom.vercel.domains
    assert [c.path for c in dom.vercel.calls if c.route == "delete" and c.status == 200] == [
        f"/v9/projects/{dom.vercel.project_id}/domains/moving.org"
    ]
    assert dom.db.scalar("select count(*) from public.domains where fqdn = 'moving.org'") == 0
    error(dom.get("/domains/moving.org", user), "DOM_014", 404)


# ----------------------------------------------------------------------------------------- renewal


def test_renewal_is_paid_then_renewed_once_at_the_renewal_price(dom: Domains) -> None:
    user, [project] = dom.owner()
    view = dom.post("/domains/checkout", user, {"project_id": project, "fqdn": "renew-me.com"}).json()
    dom.pay(view["order_id"])
    dom.run_jobs(until="select count(*) from public.domains where fqdn = 'renew-me.com' and status = 'active'")
    before = dom.db.scalar("select registration_expires_at from public.domains where fqdn = 'renew-me.com'")
    dom.db.sql("update public.domains set renewal_due = true where fqdn = 'renew-me.com'")

    renewal = dom.post("/domains/renew", user, {"fqdn": "renew-me.com", "years": 1})
    assert renewal.status_code == 201, renewal.text
    body = renewal.json()
    assert body["purpose"] == "domain" and body["kind"] == "renewal"
    assert body["amount_kwd"] == kwd("12.98")  # the renewal list price: 10.98 + 2.00 USD
    error(dom.post("/domains/renew", user, {"fqdn": "renew-me.com", "years": 1}), "DOM_016", 409)
    stranger, _ = dom.owner()
    error(dom.post("/domains/renew", stranger, {"fqdn": "renew-me.com"}), "DOM_014", 404)

    dom.run_jobs()
    assert dom.namecheap.renews() == []  # not before the payment is captured
    dom.pay(body["order_id"])
    dom.run_jobs(until="select count(*) from public.domains where fqdn = 'renew-me.com' and not renewal_due")
    assert len(dom.namecheap.renews("renew-me.com")) == 1
    after = dom.db.scalar("select registration_expires_at from public.domains where fqdn = 'renew-me.com'")
    assert after.date() == dom.namecheap.registered["renew-me.com"].expires
    assert 364 <= (after - before).days <= 367
    status = dom.get("/domains/renew-me.com", user).json()
    assert status["order"]["action"] == "renew" and status["order"]["state"] == "registered"
    assert dom.db.sql("select * from domains.audit_domains()") == []


def test_a_connected_domain_cannot_be_renewed_here(dom: Domains) -> None:
    user, [project] = dom.owner()
    assert (
        dom.post("/domains/connect", user, {"project_id": project, "fqdn": "theirs-elsewhere.com"}).status_code == 201
    )
    error(dom.post("/domains/renew", user, {"fqdn": "theirs-elsewhere.com"}), "DOM_014", 404)


def test_the_service_runs_the_domain_jobs_itself_on_its_interval(dom: Domains) -> None:
    scheduled = start_service(
        dom.db,
        dom.service.fake,
        domains=dataclasses.replace(dom.service.settings.domains, jobs_interval_s=0.2),
        trusted_proxy_hops=1,
    )
    try:
        user, [project] = dom.owner()
        view = dom.post("/domains/checkout", user, {"project_id": project, "fqdn": "on-its-own.com"}).json()
        dom.pay(view["order_id"])
        deadline = time.monotonic() + 20
        query = "select status from public.domains where fqdn = 'on-its-own.com'"
        while time.monotonic() < deadline and dom.db.scalar(query) != "active":
            time.sleep(0.1)
        assert dom.db.scalar(query) == "active"  # no `kwq8 jobs domains` ran: the service did it
        assert len(dom.namecheap.creates("on-its-own.com", succeeded=False)) == 1
    finally:
        stop_service(scheduled)
    assert not [t for t in threading.enumerate() if t.name == "kwq8-domain-jobs"]
