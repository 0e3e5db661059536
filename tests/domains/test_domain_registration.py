"""Registration of paid domains: exactly one successful domains.create per paid order, under
parallel workers, answers lost after success and workers killed mid-call; every paid order ends
registered or refunded. The oracle is the fake Namecheap's own record of calls."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kwq8.domains.worker import process_domain, run_once

from ..domain_helpers import DomainEnv, parallel_workers

pytest_plugins = ("tests.domain_fixtures",)
ROOT = Path(__file__).resolve().parents[2]


def _fast_retries(env: DomainEnv) -> None:
    env.db.sql("update domains.settings set backoff_base = interval '10 milliseconds', lease = interval '1 second'")


def _drain(env: DomainEnv, worker: str = "w1", rounds: int = 40) -> None:
    with env.client() as namecheap, env.vercel_client() as vercel:
        for _ in range(rounds):
            report = run_once(env.billing, namecheap, vercel, worker)
            open_work = env.db.scalar(
                "select count(*) from public.domain_orders where state in ('queued', 'submitting', 'reconciling')"
            ) + env.db.scalar("select count(*) from public.domains where step not in ('done', 'failed')")
            if not open_work:
                return
            if not report.outcomes:
                time.sleep(0.05)


def test_a_paid_order_is_registered_once_and_connected_to_the_site(env: DomainEnv) -> None:
    _fast_retries(env)
    _, project, payment = env.paid_order("kuwait-shop.com")
    assert env.order("kuwait-shop.com")["state"] == "queued"
    _drain(env)
    order = env.order("kuwait-shop.com")
    assert order["state"] == "registered"
    assert len(env.namecheap.creates("kuwait-shop.com")) == 1
    domain = env.db.sql("select * from public.domains where fqdn = 'kuwait-shop.com'")[0]
    assert (domain["status"], domain["step"], str(domain["project_id"])) == ("active", "done", project)
    assert domain["verified_at"] is not None and domain["registration_expires_at"] is not None
    hosts = {(h["Name"], h["Type"], h["Address"]) for h in env.namecheap.registered["kuwait-shop.com"].hosts}
    assert ("@", "A", "76.76.21.21") in hosts
    assert ("www", "CNAME", "cname.vercel-dns-0.com.") in hosts  # the value Vercel's config recommends
    assert "kuwait-shop.com" in env.vercel.domains
    # Registration details and privacy went to Namecheap with the owner's contact in all four roles.
    sent = env.namecheap.creates("kuwait-shop.com")[0].params
    assert sent["WGEnabled"] == "yes" and sent["RegistrantPhone"] == "+965.55501234" and sent["Years"] == "1"
    assert sent["AuxBillingCountry"] == "KW" and "ApiKey" not in sent
    assert env.audit() == []
    assert payment["amount_kwd"] == env.db.scalar("select price_kwd from public.domain_quotes")


def test_the_owners_mx_and_txt_records_survive_the_connection(env: DomainEnv) -> None:
    _fast_retries(env)
    env.paid_order("mail-kept.com")
    with env.client() as namecheap:
        while env.order("mail-kept.com")["state"] != "registered":
            run_once(env.billing, namecheap, None, "w1")
    env.namecheap.set_owner_hosts(
        "mail-kept.com",
        [
            {"Name": "@", "Type": "MX", "Address": "mx1.mail.example.", "MXPref": "10", "TTL": "1800"},
            {"Name": "@", "Type": "TXT", "Address": "v=spf1 include:mail.example ~all", "TTL": "1800"},
            {"Name": "@", "Type": "A", "Address": "192.0.2.10", "TTL": "1800"},  # the old site: replaced
            {"Name": "blog", "Type": "CNAME", "Address": "blog.example.net.", "TTL": "1800"},
        ],
    )
    _drain(env)
    hosts = {(h["Name"], h["Type"], h["Address"]) for h in env.namecheap.registered["mail-kept.com"].hosts}
    assert ("@", "MX", "mx1.mail.example.") in hosts
    assert ("@", "TXT", "v=spf1 include:mail.example ~all") in hosts
    assert ("blog", "CNAME", "blog.example.net.") in hosts
    assert ("@", "A", "192.0.2.10") not in hosts and ("@", "A", "76.76.21.21") in hosts
    mx = next(h for h in env.namecheap.registered["mail-kept.com"].hosts if h["Type"] == "MX")
    assert mx["MXPref"] == "10"
    set_calls = [c for c in env.namecheap.calls if c.command == "namecheap.domains.dns.setHosts"]
    assert set_calls[-1].params.get("EmailType") == "MX"


def test_eight_parallel_workers_register_each_paid_order_exactly_once(env: DomainEnv) -> None:
    _fast_retries(env)
    env.namecheap.create_delay_s = 0.2  # slow answers widen every race
    names = [f"race-{n}.com" for n in range(6)]
    for name in names:
        env.paid_order(name)
    parallel_workers(env)
    for name in names:
        assert len(env.namecheap.creates(name)) == 1, name
        assert len(env.namecheap.creates(name, succeeded=False)) == 1, name  # not even a refused second try
        assert env.order(name)["state"] == "registered"
    assert env.audit() == []


def test_an_answer_lost_after_success_is_reconciled_not_sent_again(env: DomainEnv) -> None:
    _fast_retries(env)
    env.paid_order("late-answer.com")
    env.db.sql("update domains.settings set backoff_base = interval '1 minute'")
    env.namecheap.fail_next("namecheap.domains.create", "late:1.5")
    with env.client(timeout_s=0.5) as namecheap:
        assert run_once(env.billing, namecheap, None, "w1").outcomes == {"create_unknown": 1}
        assert env.order("late-answer.com")["state"] == "reconciling"
        env.db.sql("update public.domain_orders set next_attempt_at = now()")
        assert run_once(env.billing, namecheap, None, "w1").outcomes == {"reconciled_registered": 1}
    assert env.order("late-answer.com")["state"] == "registered"
    assert len(env.namecheap.creates("late-answer.com", succeeded=False)) == 1
    assert [c.command for c in env.namecheap.calls][-1] == "namecheap.domains.getInfo"
    assert env.audit() == []


def test_html_and_server_errors_after_sending_are_ambiguous_and_reconciled(env: DomainEnv) -> None:
    _fast_retries(env)
    env.paid_order("html-page.com")
    env.paid_order("five-hundred.com")
    env.namecheap.fail_next("namecheap.domains.create", "html", "500")
    _drain(env)
    for name in ("html-page.com", "five-hundred.com"):
        assert env.order(name)["state"] == "registered"
        assert len(env.namecheap.creates(name)) == 1
    assert any(c.command == "namecheap.domains.getInfo" for c in env.namecheap.calls)
    assert env.audit() == []


def test_a_worker_killed_while_create_is_in_flight_leaves_one_registration(env: DomainEnv) -> None:
    _fast_retries(env)
    env.paid_order("killed-worker.com")
    env.namecheap.fail_next("namecheap.domains.create", "late:30")  # registers, never answers in time
    script = textwrap.dedent(
        """
        import os
        from kwq8.domains.namecheap import NamecheapClient, NamecheapConfig
        from kwq8.domains.worker import process_order
        from kwq8.service.db import BillingDb
        db = BillingDb(os.environ["DB_URL"], pool_size=1)
        db.open()
        config = NamecheapConfig(api_user="kwq8api", api_key=os.environ["NC_KEY"], username="kwq8api",
                                 client_ip="127.0.0.1", base_url=os.environ["NC_URL"], timeout_s=60)
        process_order(db, NamecheapClient(config), "doomed")
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        env={
            **os.environ,
            "DB_URL": env.db.url("postgres"),
            "NC_KEY": env.namecheap.api_key,
            "NC_URL": env.namecheap.base_url,
        },
        cwd=ROOT,
    )
    deadline = time.monotonic() + 20
    while not env.namecheap.creates("killed-worker.com") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert env.namecheap.creates("killed-worker.com"), "the worker never sent create"
    assert env.db.scalar("select state from domains.registrar_calls") == "submitting"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    time.sleep(1.1)  # its lease runs out
    _drain(env, "survivor")
    assert env.order("killed-worker.com")["state"] == "registered"
    assert len(env.namecheap.creates("killed-worker.com", succeeded=False)) == 1
    assert env.db.scalar("select count(*) from domains.registrar_calls where state = 'succeeded'") == 1
    assert env.audit() == []


def test_a_worker_killed_after_submitting_but_before_sending_gets_one_create_after_getinfo(env: DomainEnv) -> None:
    _fast_retries(env)
    env.paid_order("never-sent.com")
    order = env.order("never-sent.com")
    # What a worker leaves when it dies between committing 'submitting' and sending the request.
    env.db.sql(
        "insert into domains.registrar_calls (order_id, command, state, worker, started_at) "
        "values (%s, 'namecheap.domains.create', 'submitting', 'dead', now())",
        (order["id"],),
    )
    env.db.sql(
        "update public.domain_orders set state = 'submitting', lease_owner = 'dead', "
        "lease_until = now() - interval '1 second' where id = %s",
        (order["id"],),
    )
    _drain(env, "survivor")
    commands = [c.command for c in env.namecheap.calls if c.params.get("DomainName") == "never-sent.com"]
    assert commands[:2] == ["namecheap.domains.getInfo", "namecheap.domains.create"]
    assert len(env.namecheap.creates("never-sent.com", succeeded=False)) == 1
    assert env.order("never-sent.com")["state"] == "registered"
    assert env.audit() == []


def test_a_405_on_create_executed_nothing_and_is_simply_retried(env: DomainEnv) -> None:
    _fast_retries(env)
    env.paid_order("throttled.com")
    env.namecheap.fail_next("namecheap.domains.create", "405")
    _drain(env)
    outcomes = [c.outcome for c in env.namecheap.calls if c.command == "namecheap.domains.create"]
    assert outcomes == ["throttled", "registered"]
    assert env.order("throttled.com")["state"] == "registered"


def test_a_name_taken_meanwhile_fails_the_order_and_refunds_the_payment(env: DomainEnv) -> None:
    _fast_retries(env)
    _, _, payment = env.paid_order("gone-meanwhile.com")
    env.namecheap.taken.add("gone-meanwhile.com")
    _drain(env)
    order = env.order("gone-meanwhile.com")
    assert (order["state"], order["error_code"]) == ("failed", "DOM_001")
    refund = env.db.sql(
        "select r.status from payments.refunds as r join public.payments as p on p.id = r.payment_id "
        "where p.order_id = %s",
        (payment["order_id"],),
    )
    assert refund == [{"status": "requested"}]  # the refunds job submits it to UPayments
    assert env.namecheap.creates("gone-meanwhile.com") == []
    assert env.db.scalar("select count(*) from public.domains") == 0
    assert env.audit() == []


def test_low_account_balance_is_a_definitive_failure_with_refund(env: DomainEnv) -> None:
    _fast_retries(env)
    env.paid_order("no-funds.com")
    env.namecheap.balance_low = True
    _drain(env)
    order = env.order("no-funds.com")
    assert (order["state"], order["error_code"]) == ("failed", "DOM_007")
    assert env.db.scalar("select count(*) from payments.refunds") == 1
    assert env.audit() == []


def test_a_registered_domain_cannot_be_refunded_too(env: DomainEnv) -> None:
    _fast_retries(env)
    _, _, payment = env.paid_order("keep-it.com")
    _drain(env)
    from kwq8.service.errors import ServiceError

    try:
        env.billing.call("request_refund", order_id=payment["order_id"], reason="customer asked")
    except ServiceError as exc:
        assert exc.code == "PAY_009"
    else:
        raise AssertionError("a registered domain's payment was refunded")


def test_vercel_409_and_403_fail_the_setup_with_arabic_codes_and_429_waits(env: DomainEnv) -> None:
    _fast_retries(env)
    env.paid_order("used-elsewhere.com")
    env.vercel.other_project.add("used-elsewhere.com")
    env.vercel.fail_next("config", 429, retry_after=7)
    _drain(env, rounds=3)
    domain = env.db.sql("select * from public.domains where fqdn = 'used-elsewhere.com'")[0]
    assert domain["step"] == "dns_hosts" and domain["next_check_at"] is not None  # waiting out Retry-After
    env.db.sql("update public.domains set next_check_at = now()")
    _drain(env)
    domain = env.db.sql("select * from public.domains where fqdn = 'used-elsewhere.com'")[0]
    assert (domain["status"], domain["error_code"]) == ("failed", "DOM_009")
    assert domain["step_message_ar"]


def test_the_setup_step_resumes_where_it_stopped(env: DomainEnv) -> None:
    _fast_retries(env)
    env.paid_order("resume.com")
    env.vercel.fail_next("add", 500, times=2)
    _drain(env, rounds=60)
    domain = env.db.sql("select * from public.domains where fqdn = 'resume.com'")[0]
    assert domain["status"] == "active"
    adds = [c.status for c in env.vercel.calls if c.route == "add"]
    assert adds == [500, 500, 200]
    with env.client() as namecheap, env.vercel_client() as vercel:
        assert process_domain(env.billing, namecheap, vercel, "w") is None  # nothing left to do
