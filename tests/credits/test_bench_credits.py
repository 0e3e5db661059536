"""The credits benchmark runs end to end on a small scale (it measures; this only checks it works)."""

from __future__ import annotations

from decimal import Decimal

import pytest
import typer
from typer.testing import CliRunner

from kwq8.bench import credits
from kwq8.cli import bench as cli_bench
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


def _measured(hot: float, spread: float) -> credits.CreditsBenchResult:
    """A result as a run would report it: 1,000 baseline calls/s, spend_credits (with and without the
    limiter) at the given ratios."""
    result = credits.CreditsBenchResult(clients=2, users=10, seconds=0.1, rounds=1, phases={})
    for workload, ratio in (("hot", hot), ("spread", spread)):
        result.phases[f"baseline_{workload}"] = credits.Phase(f"baseline_{workload}", [1000.0])
        result.phases[f"spend_{workload}"] = credits.Phase(f"spend_{workload}", [1000.0 * ratio])
        # The Data API limiter costs nothing here: only the spend/baseline targets are under test.
        result.phases[f"spend_unlimited_{workload}"] = credits.Phase(f"spend_unlimited_{workload}", [1000.0 * ratio])
        result.phases[f"spend_empty_pre_{workload}"] = credits.Phase(f"spend_empty_pre_{workload}", [1000.0 * ratio])
    return result


def test_a_missed_target_is_a_non_zero_exit_unless_exploring(monkeypatch: pytest.MonkeyPatch) -> None:
    app = typer.Typer()
    app.add_typer(cli_bench.app, name="bench")
    monkeypatch.setattr(cli_bench, "local_stack", lambda: None)
    for hot, spread, code in ((0.9, 0.7, 0), (0.73, 0.7, 1), (0.9, 0.54, 1)):
        monkeypatch.setattr(credits, "run_on_stack", lambda *_a, h=hot, s=spread, **_k: _measured(h, s))
        gated = CliRunner().invoke(app, ["bench", "credits"])
        assert gated.exit_code == code, (hot, spread, gated.output)
        if code:
            assert "target missed" in gated.output
            assert CliRunner().invoke(app, ["bench", "credits", "--no-fail"]).exit_code == 0
