"""The credits benchmark runs end to end on a small scale (it measures; this only checks it works)."""

from __future__ import annotations

from decimal import Decimal

from kwq8.bench import credits
from kwq8.stack import Stack


def test_credits_benchmark_smoke(kwq8_stack: Stack) -> None:
    result = credits.run_on_stack(kwq8_stack, clients=4, users=50, seconds=0.3, rounds=1, naive_attempts_per_client=20)
    assert set(result.phases) == {"baseline_hot", "spend_hot", "baseline_spread", "spend_spread"}
    assert all(p.calls_per_s and p.calls_per_s[0] > 0 and p.errors == 0 for p in result.phases.values())
    assert result.audit_violations == 0
    assert result.naive_successes > 0 and result.naive_credits_lost >= Decimal(0)
    assert "| one hot user |" in result.table()
