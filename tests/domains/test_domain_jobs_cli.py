"""`kwq8 jobs domains` and `kwq8 domains status|audit` as an operator's scheduler runs them: a
separate process configured by environment variables only, against the fake Namecheap and Vercel."""

from __future__ import annotations

import json

from ..conftest import run_cli
from ..domain_helpers import DomainEnv

pytest_plugins = ("tests.domain_fixtures",)


def _environment(env: DomainEnv) -> dict[str, str]:
    return {
        "KWQ8_SERVICE_DB_URL": env.db.url("postgres"),
        "NAMECHEAP_API_USER": env.namecheap.api_user,
        "NAMECHEAP_API_KEY": env.namecheap.api_key,
        "NAMECHEAP_CLIENT_IP": env.namecheap.client_ip,
        "NAMECHEAP_BASE_URL": env.namecheap.base_url,
        "VERCEL_TOKEN": env.vercel.token,
        "VERCEL_PROJECT_ID": env.vercel.project_id,
        "VERCEL_BASE_URL": env.vercel.base_url,
    }


def test_jobs_domains_registers_a_paid_order_and_connects_it(env: DomainEnv) -> None:
    env.db.sql("update domains.settings set backoff_base = interval '10 milliseconds'")
    env.paid_order("from-cron.com")
    variables = _environment(env)
    first = run_cli("jobs", "domains", "--json", env=variables)
    assert first.code == 0, first.stderr
    outcomes = json.loads(first.stdout)["outcomes"]
    assert outcomes["create_succeeded"] == 1
    # Every step that was due ran in the same pass: DNS, Vercel add, verify, config.
    assert {"dns_hosts:next", "vercel_add:next", "vercel_verify:next", "vercel_config:next"} <= set(outcomes)
    assert len(env.namecheap.creates("from-cron.com")) == 1
    again = run_cli("jobs", "domains", "--json", env=variables)
    assert again.code == 0 and json.loads(again.stdout)["outcomes"] == {}  # nothing is due: nothing is sent
    assert len(env.namecheap.creates("from-cron.com", succeeded=False)) == 1

    db = ["--db-url", env.db.url("postgres")]
    status = run_cli("domains", "status", "FROM-CRON.com", "--json", *db)
    assert status.code == 0, status.stderr
    answer = json.loads(status.stdout)
    assert (answer["status"], answer["step"], answer["order"]["state"]) == ("active", "done", "registered")
    audit = run_cli("domains", "audit", *db)
    assert audit.code == 0, audit.stdout + audit.stderr
    # No secret reaches the operator's terminal or log.
    for result in (first, again, status, audit):
        assert env.namecheap.api_key not in result.stdout + result.stderr
        assert env.vercel.token not in result.stdout + result.stderr


def test_jobs_domains_without_namecheap_settings_names_the_variables_only(env: DomainEnv) -> None:
    variables = _environment(env)
    del variables["NAMECHEAP_API_KEY"]
    result = run_cli("jobs", "domains", env={**variables, "NAMECHEAP_API_KEY": ""})
    assert result.code == 2
    assert "NAMECHEAP_API_KEY" in result.stderr and env.vercel.token not in result.stderr
    assert env.namecheap.calls == []
