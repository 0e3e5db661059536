"""The credits benchmark runs end to end on a small scale (it measures; this only checks it works)."""

from __future__ import annotations

from decimal import Decimal

from kwq8.bench import credits
from kwq8.stack import Stack


def test_credits_benchmark_smoke(kwq8_stack: Stack) -> None:
    result = credits.run_on_stack(kwq8_stack, clients=4, users=50, seconds=0.3, rounds=1, naive_attempts_per_client=20)
    assert set(result.phases) == set(credits.PHASES + credits.REFERENCE_PHASES)
    assert all(p.calls_per_s and p.calls_per_s[0] > 0 and p.errors == 0 for p in result.phases.values())
    # The reference functions write through the real tables too: the audit covers their entries.
    assert result.audit_violations == 0
    assert result.naive_successes > 0 and result.naive_credits_lost >= Decimal(0)
    table = result.table()
    assert "| one hot user |" in table and "| required writes as RPC |" in table
    assert set(result.as_dict()["reference_ratios"]) == set(credits.REFERENCE_PHASES)


def test_credits_benchmark_without_references(kwq8_stack: Stack) -> None:
    result = credits.run_on_stack(
        kwq8_stack, clients=2, users=10, seconds=0.2, rounds=1, naive_attempts_per_client=5, references=False
    )
    assert set(result.phases) == set(credits.PHASES)
    assert "required writes" not in result.table()
    assert result.audit_violations == 0
