"""Helpers of the domain tests: a test database with the fake Namecheap and Vercel, the
database client the jobs use, and paid orders made through the real checkout path."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kwq8.domains.fake_namecheap import FakeNamecheap
from kwq8.domains.fake_vercel import FakeVercel
from kwq8.domains.namecheap import NamecheapClient, NamecheapConfig
from kwq8.domains.vercel import VercelClient, VercelConfig
from kwq8.domains.worker import run_once
from kwq8.postgrest import Identity
from kwq8.service.db import BillingDb
from kwq8.testing.database import TestDatabase

from .payment_helpers import attach

CONTACT = {
    "first_name": "Fatima",
    "last_name": "Al-Sabah",
    "address1": "Block 3, Street 12",
    "city": "Kuwait City",
    "state_province": "Al Asimah",
    "postal_code": "13001",
    "country": "kw",
    "phone": "+965.55501234",
    "email": "Owner@Example.kw",
}
OPEN_ORDERS = "select count(*) from public.domain_orders where state in ('queued', 'submitting', 'reconciling')"
RATE = Decimal("0.307")
MARGIN = Decimal("1.20")


def namecheap_config(fake: FakeNamecheap, timeout_s: float = 2.0) -> NamecheapConfig:
    return NamecheapConfig(
        api_user=fake.api_user,
        api_key=fake.api_key,
        username=fake.api_user,
        client_ip=fake.client_ip,
        base_url=fake.base_url,
        timeout_s=timeout_s,
    )


def vercel_config(fake: FakeVercel) -> VercelConfig:
    return VercelConfig(token=fake.token, project_id=fake.project_id, base_url=fake.base_url)


@dataclass
class DomainEnv:
    db: TestDatabase
    billing: BillingDb
    namecheap: FakeNamecheap
    vercel: FakeVercel

    def client(self, timeout_s: float = 2.0) -> NamecheapClient:
        return NamecheapClient(namecheap_config(self.namecheap, timeout_s))

    def vercel_client(self) -> VercelClient:
        return VercelClient(vercel_config(self.vercel))

    def owner(self) -> tuple[Identity, str]:
        user = self.db.create_user(f"{uuid.uuid4().hex[:8]}@example.kw")
        slug = "s" + uuid.uuid4().hex[:10]
        project = self.db.scalar(
            "insert into public.projects (user_id, name, slug, subdomain) values (%s, 'Shop', %s, %s) returning id",
            (user.user_id, slug, slug),
        )
        self.billing.call_in("domains", "set_contact", p_user=user.user_id, p_contact=CONTACT)
        return user, str(project)

    def checkout(self, user: Identity, project: str, fqdn: str, years: int = 1, key: str | None = None) -> Any:
        """As the service does: check the name, refresh prices, then the checkout."""
        self.billing.call_in(
            "domains",
            "record_availability",
            p_results=[{"fqdn": fqdn, "available": fqdn not in self.namecheap.taken, "premium": False}],
        )
        self.billing.call_in(
            "domains",
            "record_pricing",
            p_prices=[{"tld": fqdn.split(".", 1)[1], "action": "register", "years": years, "usd_price": "10.98"}],
        )
        return self.billing.call_in(
            "domains",
            "create_checkout",
            p_user=user.user_id,
            p_project=project,
            p_fqdn=fqdn,
            p_unicode=fqdn,
            p_tld=fqdn.split(".", 1)[1],
            p_years=years,
            p_rate=RATE,
            p_margin=MARGIN,
            p_key=key or str(uuid.uuid4()),
        )

    def paid_order(self, fqdn: str) -> tuple[Identity, str, dict[str, Any]]:
        user, project = self.owner()
        payment = self.checkout(user, project, fqdn)
        self.confirm(payment)
        return user, project, payment

    def confirm(self, payment: dict[str, Any]) -> None:
        """UPayments captured the payment (the payments path: confirm_payment)."""
        track = attach(self.db, payment["order_id"])
        confirmed = self.billing.call(
            "confirm_payment",
            order_id=payment["order_id"],
            track_id=track,
            provider_payment_id="100000000000000001",
            amount_kwd=Decimal(str(payment["amount_kwd"])),
            currency="KWD",
        )
        assert confirmed["status"] == "paid"

    def paid_renewal(self, user: Identity, fqdn: str, years: int = 1) -> dict[str, Any]:
        """As the service does: the renewal price list, the renewal checkout, then the capture."""
        tld = fqdn.split(".", 1)[1]
        self.billing.call_in(
            "domains",
            "record_pricing",
            p_prices=[{"tld": tld, "action": "renew", "years": years, "usd_price": "12.98"}],
        )
        payment = self.billing.call_in(
            "domains",
            "create_renewal_checkout",
            p_user=user.user_id,
            p_fqdn=fqdn,
            p_years=years,
            p_rate=RATE,
            p_margin=MARGIN,
            p_key=str(uuid.uuid4()),
        )
        self.confirm(payment)
        return dict(payment)

    def order(self, fqdn: str) -> dict[str, Any]:
        return self.db.sql("select * from public.domain_orders where fqdn = %s order by created_at desc", (fqdn,))[0]

    def audit(self) -> list[dict[str, Any]]:
        return self.db.sql("select * from domains.audit_domains()")


def parallel_workers(env: DomainEnv, workers: int = 8, seconds: float = 30) -> None:
    """``workers`` threads run the registration job at once until no order is open."""
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with env.client(timeout_s=5) as namecheap:
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline and env.db.scalar(OPEN_ORDERS):
                    run_once(env.billing, namecheap, None, f"w{n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
