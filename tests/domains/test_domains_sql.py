"""Domain tables and functions in SQL: the shared Namecheap budget (measured at the fake), RLS,
quotes, and the audit on a corrupted database."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from kwq8.domains.fake_namecheap import max_in_window
from kwq8.postgrest import Identity
from kwq8.service.errors import ServiceError

from ..domain_helpers import MARGIN, RATE, DomainEnv

pytest_plugins = ("tests.domain_fixtures",)


def test_eight_parallel_workers_never_exceed_the_per_window_limit_at_the_fake(env: DomainEnv) -> None:
    # The "minute" shortened to 3 s so that the test sees several windows; 20 calls per window.
    env.db.sql("update domains.settings set window_seconds = 3, calls_per_minute = 20, reserved_for_jobs = 5")
    stop = time.monotonic() + 7.5

    def worker() -> None:
        with env.client() as namecheap:
            while time.monotonic() < stop:
                taken = env.billing.call_in("domains", "take_registrar_call", p_priority="job")
                if taken["allowed"]:
                    namecheap.check(["limit-test.com"])
                else:
                    time.sleep(0.05)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    times = [c.at for c in env.namecheap.calls]
    assert max_in_window(times, 3.0) <= 20
    assert len(times) >= 40  # the limiter let the work through, window after window


def test_searches_leave_the_reserved_calls_to_jobs_and_say_when_to_retry(env: DomainEnv) -> None:
    env.db.sql("update domains.settings set window_seconds = 60, calls_per_minute = 6, reserved_for_jobs = 2")
    take = lambda priority: env.billing.call_in("domains", "take_registrar_call", p_priority=priority)  # noqa: E731
    assert [take("search")["allowed"] for _ in range(5)] == [True, True, True, True, False]
    refused = take("search")
    assert refused["retry_after"] >= 1
    assert [take("job")["allowed"] for _ in range(3)] == [True, True, False]
    env.db.sql("update domains.settings set calls_per_minute = 100, calls_per_hour = 7")
    assert take("job")["allowed"] is True and take("job")["allowed"] is False  # the hour is spent too


def test_owners_see_only_their_projects_domains_orders_and_quotes(env: DomainEnv) -> None:
    owner, _ = env.owner()
    env.paid_order("mine-only.com")
    real_owner = env.db.sql("select u.id from public.domain_orders as o join public.users as u on u.id = o.user_id")[0][
        "id"
    ]
    stranger, _ = env.owner()
    env.db.sql("insert into public.domains (project_id, fqdn) select project_id, fqdn from public.domain_orders")
    ident = Identity.user(str(real_owner))
    for table in ("domains", "domain_orders", "domain_quotes", "domain_contacts"):
        with env.db.request(ident) as cur:
            assert cur.execute(f"select count(*) from public.{table}").fetchone()[0] == 1, table
        with env.db.request(stranger) as cur:
            expected = 1 if table == "domain_contacts" else 0  # their own contact only
            assert cur.execute(f"select count(*) from public.{table}").fetchone()[0] == expected, table
        with env.db.request(Identity.anon()) as cur, pytest.raises(Exception, match="permission denied"):
            cur.execute(f"select count(*) from public.{table}")
    with env.db.request(ident) as cur, pytest.raises(Exception, match="permission denied"):
        cur.execute("update public.domain_orders set state = 'registered'")
    del owner


def test_contact_is_validated(env: DomainEnv) -> None:
    user, _ = env.owner()
    with pytest.raises(ServiceError) as bad:
        env.billing.call_in(
            "domains", "set_contact", p_user=user.user_id, p_contact={"first_name": "A", "phone": "55501234"}
        )
    assert bad.value.code == "DOM_015"


def test_checkout_freezes_a_rounded_kwd_price_and_refuses_bad_input(env: DomainEnv) -> None:
    user, project = env.owner()
    payment = env.checkout(user, project, "price-check.com", years=2)
    # 10.98 USD x 0.307 x 1.20 = 4.045 KWD, rounded up to the next 0.250.
    assert str(payment["amount_kwd"]) == "4.250" and payment["purpose"] == "domain" and payment["plan"] is None
    assert payment["quote"]["years"] == 2
    stranger, other_project = env.owner()
    for fqdn, tld, project_id, code in (
        ("bad_name.com", "com", project, "DOM_002"),
        ("x.kwq8.com", "com", project, "DOM_002"),
        ("shop.xyz", "xyz", project, "DOM_003"),
        ("price-check.com", "com", project, "DOM_001"),  # someone's checkout for it is open
        ("not-mine.com", "com", other_project, "DOM_014"),
    ):
        with pytest.raises(ServiceError) as refused:
            env.billing.call_in(
                "domains",
                "create_checkout",
                p_user=user.user_id,
                p_project=project_id,
                p_fqdn=fqdn,
                p_unicode=fqdn,
                p_tld=tld,
                p_years=1,
                p_rate=RATE,
                p_margin=MARGIN,
                p_key=f"k-{fqdn}",
            )
        assert refused.value.code == code, fqdn
    del stranger


def test_a_checkout_key_answers_only_the_checkout_it_opened(env: DomainEnv) -> None:
    user, project = env.owner()
    first = env.checkout(user, project, "one-key.com", key="k-shared")
    assert env.checkout(user, project, "one-key.com", key="k-shared")["order_id"] == first["order_id"]
    plan = env.db.rpc(
        "create_checkout",
        {"user_id": user.user_id, "plan": "basic", "payment_method": "knet", "idempotency_key": "k-plan"},
        as_=Identity.service_role(),
    )

    def payments() -> list[tuple[str, str]]:
        rows = env.db.sql(
            "select order_id, purpose from public.payments where user_id = %s order by order_id", (user.user_id,)
        )
        return [(r["order_id"], r["purpose"]) for r in rows]

    before = payments()
    assert sorted(before) == sorted([(first["order_id"], "domain"), (plan["order_id"], "plan")])
    # The same key for another name, or a plan checkout's key for a domain: refused, nothing opened.
    for fqdn, key in (("other-name.com", "k-shared"), ("one-more.com", "k-plan")):
        with pytest.raises(ServiceError) as refused:
            env.checkout(user, project, fqdn, key=key)
        assert refused.value.code == "CREDIT_005", (fqdn, key)
    assert payments() == before


def test_audit_flags_a_corrupted_database(env: DomainEnv) -> None:
    env.db.sql("update domains.settings set backoff_base = interval '10 milliseconds'")
    _, _, paid = env.paid_order("audit-me.com")
    assert env.audit() == []
    order = env.order("audit-me.com")
    # A paid order failed without a refund; an active domain without verified_at; a registration
    # without a captured payment.
    env.db.sql("update public.domain_orders set state = 'failed' where id = %s", (order["id"],))
    env.db.sql("alter table public.domains drop constraint domains_active_verified")
    user, project = env.owner()
    env.db.sql(
        "insert into public.domains (project_id, fqdn, status) values (%s, 'unverified.com', 'active')", (project,)
    )
    unpaid = env.checkout(user, project, "unpaid.com")
    env.db.sql(
        "update public.domain_orders set state = 'registered', registered_at = now() "
        "where payment_id = (select id from public.payments where order_id = %s)",
        (unpaid["order_id"],),
    )
    problems = {(row["fqdn"], row["problem"]) for row in env.audit()}
    assert ("audit-me.com", "paid order neither registered nor refunded") in problems
    assert ("unverified.com", "active domain without verified_at") in problems
    assert ("unpaid.com", "registration without a captured payment") in problems
    del paid


def test_search_checks_every_suggestion_in_one_call_and_caches_the_answers(env: DomainEnv) -> None:
    from kwq8.domains.search import search

    env.namecheap.taken.add("xn--pgbep1f2a.com")
    env.namecheap.premium["xn--pgbep1f2a.net"] = Decimal("250.00")
    with env.client() as namecheap:
        result = search(env.billing, namecheap, "متجري", years=1, rate=RATE, margin=MARGIN)
        again = search(env.billing, namecheap, "متجري.com", years=1, rate=RATE, margin=MARGIN)
    rows = {r["fqdn"]: r for r in result["results"]}
    assert result["query"] == {"fqdn": "xn--pgbep1f2a.com", "unicode": "متجري.com", "tld": "com"}
    assert len(rows) == 8 and rows["xn--pgbep1f2a.com"]["available"] is False
    assert rows["xn--pgbep1f2a.net"]["premium"] is True
    assert str(rows["xn--pgbep1f2a.net"]["price_kwd"]) == "92.250"  # 250 x 0.307 x 1.2 = 92.1, up to 0.250
    assert str(rows["xn--pgbep1f2a.org"]["price_kwd"]) == "3.750"  # 9.98 x 0.307 x 1.2 = 3.677
    commands = [c.command for c in env.namecheap.calls]
    assert commands == ["namecheap.domains.check", "namecheap.users.getPricing"]  # the repeat came from the cache
    assert again["results"] == result["results"]
    for query, code in (("shop.xyz", "DOM_003"), ("a.kwq8.com", "DOM_002"), ("bad name!.com", "DOM_002")):
        with env.client() as namecheap, pytest.raises(ServiceError) as refused:
            search(env.billing, namecheap, query, years=1, rate=RATE, margin=MARGIN)
        assert refused.value.code == code, query


def test_search_degrades_to_try_again_when_the_budget_is_spent(env: DomainEnv) -> None:
    from kwq8.domains.search import search

    env.db.sql("update domains.settings set calls_per_minute = 5, reserved_for_jobs = 5")
    with env.client() as namecheap, pytest.raises(ServiceError) as refused:
        search(env.billing, namecheap, "busy-day.com", years=1, rate=RATE, margin=MARGIN)
    assert refused.value.code == "DOM_005" and int(refused.value.headers["Retry-After"]) >= 1
    assert env.namecheap.calls == []


def test_domains_audit_cli_exits_non_zero_on_violations(env: DomainEnv, cli: object) -> None:
    from ..conftest import run_cli

    url = env.db.url("postgres")
    assert run_cli("domains", "audit", "--db-url", url).code == 0
    env.db.sql("alter table public.domains drop constraint domains_active_verified")
    _, project = env.owner()
    env.db.sql("insert into public.domains (project_id, fqdn, status) values (%s, 'bad.com', 'active')", (project,))
    result = run_cli("domains", "audit", "--db-url", url)
    assert result.code == 1 and "active domain without verified_at" in result.stdout
