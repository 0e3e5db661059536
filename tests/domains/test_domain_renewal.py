"""Renewal of a domain registered here: paid like a registration, then exactly one successful
namecheap.domains.renew per paid order, under parallel workers, answers lost after success and
workers lost before sending; a refusal refunds. The oracle is the fake Namecheap's record of
calls and the expiry it holds."""

from __future__ import annotations

from datetime import date
from typing import Any

from kwq8.domains.worker import run_once

from ..domain_helpers import OPEN_ORDERS, DomainEnv, parallel_workers

pytest_plugins = ("tests.domain_fixtures",)


def _registered(env: DomainEnv, fqdn: str) -> tuple[Any, date]:
    env.db.sql("update domains.settings set backoff_base = interval '10 milliseconds', lease = interval '1 second'")
    user, _, _ = env.paid_order(fqdn)
    with env.client() as namecheap:
        while env.db.scalar(OPEN_ORDERS):
            run_once(env.billing, namecheap, None, "setup")
    return user, env.namecheap.registered[fqdn].expires


def _expiry(env: DomainEnv, fqdn: str) -> date:
    return env.db.scalar("select registration_expires_at from public.domains where fqdn = %s", (fqdn,)).date()


def _renewal_order(env: DomainEnv, fqdn: str) -> dict[str, Any]:
    return env.db.sql(
        "select * from public.domain_orders where fqdn = %s and action = 'renew' order by created_at desc", (fqdn,)
    )[0]


def test_a_paid_renewal_is_sent_once_and_extends_the_expiry(env: DomainEnv) -> None:
    user, expires = _registered(env, "yearly.com")
    env.db.sql("update public.domains set renewal_due = true where fqdn = 'yearly.com'")
    payment = env.paid_renewal(user, "yearly.com", years=2)
    assert payment["kind"] == "renewal"
    with env.client() as namecheap:
        assert run_once(env.billing, namecheap, None, "w1").outcomes == {"renew_succeeded": 1}
    [renew] = env.namecheap.renews("yearly.com", succeeded=False)
    assert renew.params["Years"] == "2"
    assert env.namecheap.registered["yearly.com"].expires == expires.replace(year=expires.year + 2)
    assert _expiry(env, "yearly.com") == env.namecheap.registered["yearly.com"].expires
    assert env.db.scalar("select renewal_due from public.domains where fqdn = 'yearly.com'") is False
    assert _renewal_order(env, "yearly.com")["state"] == "registered"
    assert env.audit() == []


def test_eight_parallel_workers_renew_a_paid_order_exactly_once(env: DomainEnv) -> None:
    user, expires = _registered(env, "busy-renewal.com")
    env.paid_renewal(user, "busy-renewal.com")
    env.namecheap.fail_next("namecheap.domains.renew", "late:0.3")  # a slow answer widens every race
    parallel_workers(env)
    assert len(env.namecheap.renews("busy-renewal.com", succeeded=False)) == 1
    assert env.namecheap.registered["busy-renewal.com"].expires == expires.replace(year=expires.year + 1)
    assert _renewal_order(env, "busy-renewal.com")["state"] == "registered"
    assert env.audit() == []


def test_a_renewal_answered_too_late_is_reconciled_by_its_expiry_not_sent_again(env: DomainEnv) -> None:
    user, expires = _registered(env, "late-renewal.com")
    env.paid_renewal(user, "late-renewal.com")
    env.db.sql("update domains.settings set backoff_base = interval '1 minute'")
    env.namecheap.fail_next("namecheap.domains.renew", "late:1.5")
    with env.client(timeout_s=0.5) as namecheap:
        assert run_once(env.billing, namecheap, None, "w1").outcomes == {"renew_unknown": 1}
        assert _renewal_order(env, "late-renewal.com")["state"] == "reconciling"
        env.db.sql("update public.domain_orders set next_attempt_at = now()")
        assert run_once(env.billing, namecheap, None, "w1").outcomes == {"reconciled_registered": 1}
    assert len(env.namecheap.renews("late-renewal.com", succeeded=False)) == 1
    assert [c.command for c in env.namecheap.calls][-1] == "namecheap.domains.getInfo"
    assert env.namecheap.registered["late-renewal.com"].expires == expires.replace(year=expires.year + 1)
    assert _expiry(env, "late-renewal.com") == env.namecheap.registered["late-renewal.com"].expires
    assert env.audit() == []


def test_a_renewal_lost_before_sending_is_sent_once_after_getinfo(env: DomainEnv) -> None:
    user, expires = _registered(env, "lost-renewal.com")
    env.paid_renewal(user, "lost-renewal.com")
    order = _renewal_order(env, "lost-renewal.com")
    # What a worker leaves when it dies between committing 'submitting' and sending the request.
    job = env.billing.call_in("domains", "claim_order", p_worker="dead")
    assert job["order_id"] == str(order["id"]) and job["command"] == "renew"
    assert env.billing.call_in("domains", "begin_create", p_order=job["order_id"], p_worker="dead")
    env.db.sql(
        "update public.domain_orders set lease_until = now() - interval '1 second' where id = %s", (order["id"],)
    )
    with env.client() as namecheap:
        while env.db.scalar(OPEN_ORDERS):
            run_once(env.billing, namecheap, None, "survivor")
    commands = [c.command for c in env.namecheap.calls if c.params.get("DomainName") == "lost-renewal.com"]
    assert commands[-2:] == ["namecheap.domains.getInfo", "namecheap.domains.renew"]  # unchanged expiry: absent
    assert len(env.namecheap.renews("lost-renewal.com", succeeded=False)) == 1
    assert env.namecheap.registered["lost-renewal.com"].expires == expires.replace(year=expires.year + 1)
    assert env.audit() == []


def test_a_refused_renewal_is_refunded_and_leaves_the_expiry(env: DomainEnv) -> None:
    user, expires = _registered(env, "broke-renewal.com")
    payment = env.paid_renewal(user, "broke-renewal.com")
    before = _expiry(env, "broke-renewal.com")
    env.namecheap.balance_low = True
    with env.client() as namecheap:
        assert run_once(env.billing, namecheap, None, "w1").outcomes == {"renew_failed": 1}
    order = _renewal_order(env, "broke-renewal.com")
    assert (order["state"], order["error_code"]) == ("failed", "DOM_007")
    refunds = env.db.sql(
        "select r.status from payments.refunds as r join public.payments as p on p.id = r.payment_id"
        " where p.order_id = %s",
        (payment["order_id"],),
    )
    assert refunds == [{"status": "requested"}]
    assert (
        _expiry(env, "broke-renewal.com") == before and env.namecheap.registered["broke-renewal.com"].expires == expires
    )
    assert env.audit() == []


def test_renewal_notices_and_lapse_never_delete_the_domain(env: DomainEnv) -> None:
    _registered(env, "expiring.com")
    env.db.sql("update public.domains set registration_expires_at = now() + interval '29 days'")
    assert env.db.scalar("select (payments.run_payment_jobs() ->> 'domains_renewal_due')::int") == 1
    env.db.sql("update public.domains set registration_expires_at = now() - interval '1 day'")
    assert env.db.scalar("select (payments.run_payment_jobs() ->> 'domains_lapsed')::int") == 1
    row = env.db.sql("select renewal_due, lapsed from public.domains where fqdn = 'expiring.com'")
    assert row == [{"renewal_due": True, "lapsed": True}]
