"""A small run of the RLS benchmark: proves the code works and reports figures and the plan.
Not a timing test: the numbers of a few hundred rows on a shared CI machine mean nothing."""

from __future__ import annotations

import json
import uuid

import pytest
import typer
from typer.testing import CliRunner

from kwq8.bench import rls
from kwq8.cli import bench as cli_bench
from kwq8.stack import Stack


def databases(stack: Stack) -> set[str]:
    from kwq8.db import connection

    with connection(stack.admin_url("template1"), autocommit=True) as conn:
        return {r[0] for r in conn.execute("select datname from pg_database").fetchall()}


def test_small_run_reports_figures_and_the_plan(kwq8_stack: Stack) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    messages: list[str] = []
    result = rls.run(kwq8_stack, projects=40, bookings=4000, runs=15, warmup=3, database=name, echo=messages.append)
    assert name not in databases(kwq8_stack)  # the scratch database is dropped afterwards
    assert result.owners == 4 and result.projects == 40 and result.bookings == 4000
    assert result.target_bookings > 50 and result.rows_returned == 50
    # RLS and bypass return the same rows, and RLS hides another owner's project.
    assert result.same_rows and result.foreign_rows_seen == 0
    # Both statements ran as prepared statements with generic plans, as PostgREST's do.
    assert result.extra == {"generic_plans_used": True}
    for timing in (result.rls, result.bypass):
        assert timing.runs == 15
        assert 0 < timing.min_ms <= timing.p50_ms <= timing.p95_ms <= timing.max_ms
    assert result.ratio_p50 > 0 and result.ratio_p95 > 0
    # The plan of the RLS query: analysed, with buffers, through the index, policy helper once.
    assert "Buffers: shared hit=" in result.plan and "actual time=" in result.plan
    # (At this size a bitmap scan of the index may win; at full size it is an ordered index scan.)
    assert "Index Scan on bookings_project_starts" in result.plan or "Index Scan using bookings_project_starts" in (
        result.plan
    )
    assert "InitPlan" in result.plan and "Seq Scan" not in result.plan
    assert result.index_used
    assert "InitPlan" not in result.bypass_plan
    data = result.as_dict()
    assert {"ratio_p50", "ratio_p95", "index_used", "target_met", "plan", "rls", "bypass"} <= set(data)
    assert json.loads(json.dumps(data))["rls"]["runs"] == 15
    assert any("loading 4 owners, 40 projects and 4,000 bookings" in m for m in messages)


def test_keep_leaves_the_database(kwq8_stack: Stack) -> None:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        rls.run(kwq8_stack, projects=4, bookings=20, runs=2, warmup=0, database=name, keep=True)
        assert name in databases(kwq8_stack)
    finally:
        kwq8_stack.drop_database(name)


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert rls.percentile(values, 50) == 50 and rls.percentile(values, 95) == 95
    assert rls.percentile([3.0], 95) == 3.0
    with pytest.raises(ValueError):
        rls.percentile([], 50)
    timing = rls.Timing.of([2_000_000, 1_000_000, 3_000_000])
    assert (timing.p50_ms, timing.p95_ms, timing.min_ms, timing.max_ms) == (2.0, 3.0, 1.0, 3.0)


def test_cli_command(kwq8_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_bench, "local_stack", lambda: kwq8_stack)
    app = typer.Typer()
    app.add_typer(cli_bench.app, name="bench")
    name = f"bench_{uuid.uuid4().hex[:8]}"
    args = ["bench", "rls", "--projects", "20", "--bookings", "600", "--runs", "5", "--warmup", "1", "--no-fail"]
    result = CliRunner().invoke(app, [*args, "--database", name, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["projects"] == 20 and data["rls"]["runs"] == 5 and data["same_rows"] is True
    text = CliRunner().invoke(app, [*args, "--database", name])
    assert text.exit_code == 0, text.output
    assert "through RLS (owner)" in text.stdout and "EXPLAIN (ANALYZE, BUFFERS)" in text.stdout
    gated = CliRunner().invoke(app, [*args, "--database", name, "--max-ratio", "0.01"])
    assert gated.exit_code == 1
