"""`kwq8 bench ...`: benchmarks on scratch databases of the local stack (not tests, not CI gates)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any, Protocol, TypeVar

import typer
from rich.table import Table

from kwq8.cli.common import JsonOut, echo, err, out, print_json
from kwq8.config import find_project
from kwq8.errors import Kwq8Error
from kwq8.stack import Stack

if TYPE_CHECKING:
    from kwq8.bench.credits import CreditsBenchResult
    from kwq8.bench.rls import RlsBenchResult


class _Result(Protocol):
    def as_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Result)

app = typer.Typer(name="bench", no_args_is_help=True, help="Benchmarks on scratch databases of the local stack.")


def local_stack() -> Stack:
    """The running local stack: benchmarks create and drop databases on it, so never a remote."""
    stack = Stack(find_project())
    if not stack.running:
        raise Kwq8Error(
            "the local stack is not running",
            hint="start it with `kwq8 stack start`; benchmarks create their own scratch database on it",
            exit_code=2,
        )
    return stack


Keep = Annotated[bool, typer.Option("--keep", help="Keep the scratch database afterwards.")]
MaxRatio = Annotated[
    float | None, typer.Option("--max-ratio", help="Exit 1 when the p50 or p95 ratio exceeds this (e.g. 1.3).")
]
NoFail = Annotated[bool, typer.Option("--no-fail", help="Exit 0 even when a target is missed (exploring, not gating).")]


def _missed(missed: list[str], no_fail: bool) -> None:
    """A benchmark is a gate: a missed target is a non-zero exit, unless the operator explores."""
    if not missed:
        return
    err.print(f"[bold red]target missed:[/bold red] {'; '.join(missed)}", soft_wrap=True)
    if not no_fail:
        raise typer.Exit(1)


def _measure(run: Callable[..., R], json_out: bool, show: Callable[[R], None], **options: Any) -> R:
    """Run a benchmark on the local stack and show its result (with --json, as JSON alone)."""
    result = run(local_stack(), echo=echo, **options)
    if json_out:
        print_json(result.as_dict())
    else:
        show(result)
    return result


def _print_rls(result: RlsBenchResult) -> None:
    from kwq8.bench.rls import TARGET_RATIO

    table = Table("query", "p50 ms", "p95 ms", "mean ms", "min ms", "max ms", title="latest 50 bookings")
    for label, timing in (("through RLS (owner)", result.rls), ("RLS bypassed (service_role)", result.bypass)):
        table.add_row(
            label,
            *(f"{v:.3f}" for v in (timing.p50_ms, timing.p95_ms, timing.mean_ms, timing.min_ms, timing.max_ms)),
        )
    table.add_row("ratio", f"{result.ratio_p50:.2f}x", f"{result.ratio_p95:.2f}x", "", "", "")
    out.print(table)
    out.print(
        f"{result.projects:,} projects, {result.owners:,} owners, {result.bookings:,} bookings "
        f"({result.target_bookings} in the target project); loaded in {result.load_seconds:.1f}s; "
        f"{result.rls.runs} runs each; PostgreSQL {result.server_version}",
        markup=False,
    )
    out.print("EXPLAIN (ANALYZE, BUFFERS) of the RLS query:", markup=False)
    out.print(result.plan, markup=False, highlight=False)
    verdict = "met" if result.target_met else "missed"
    err.print(
        f"target ratio <= {TARGET_RATIO}x {verdict}; index used: {'yes' if result.index_used else 'NO'}; "
        f"same rows both ways: {'yes' if result.same_rows else 'NO'}; "
        f"rows of another owner's project seen through RLS: {result.foreign_rows_seen}"
    )


def _print_credits(clients: int, rounds: int, seconds: float, result: CreditsBenchResult) -> None:
    out.print(result.table(), markup=False, highlight=False)
    err.print(
        f"{clients} clients, {rounds} rounds of {seconds:g}s per phase (medians); "
        f"ledger audit after the run: {result.audit_violations} violation(s)"
    )


@app.command("rls")
def rls(
    projects: Annotated[int, typer.Option("--projects", min=2, help="Projects to create (10 per owner).")] = 10_000,
    bookings: Annotated[int, typer.Option("--bookings", min=1, help="Bookings spread over them.")] = 1_000_000,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Measured runs of each variant.")] = 2000,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Unrecorded runs of each first.")] = 200,
    database: Annotated[str, typer.Option("--database", help="Scratch database name (recreated).")] = "bench_rls",
    keep: Keep = False,
    max_ratio: MaxRatio = None,
    no_fail: NoFail = False,
    json_out: JsonOut = False,
) -> None:
    """An owner's latest 50 bookings of one project through RLS vs the same query bypassing RLS.
    Exit 1 when the target ratio is missed (unless --no-fail)."""
    from kwq8.bench import rls as bench

    options = {"projects": projects, "bookings": bookings, "runs": runs, "warmup": warmup, "database": database}
    result = _measure(bench.run, json_out, _print_rls, keep=keep, **options)
    if not (result.same_rows and result.foreign_rows_seen == 0):
        raise Kwq8Error("the benchmark's sanity checks failed: RLS and bypass disagree or RLS leaked rows")
    if max_ratio is not None and max(result.ratio_p50, result.ratio_p95) > max_ratio:
        raise typer.Exit(1)
    if not result.target_met:
        _missed(
            [f"RLS/bypass ratio p50 {result.ratio_p50:.2f}x, p95 {result.ratio_p95:.2f}x > {bench.TARGET_RATIO}x"],
            no_fail,
        )


@app.command("credits")
def credits(
    clients: Annotated[int, typer.Option("--clients", min=1, help="Parallel client connections.")] = 16,
    users: Annotated[int, typer.Option("--users", min=2, help="Users for the spread workload.")] = 10_000,
    seconds: Annotated[float, typer.Option("--seconds", min=0.1, help="Length of each measured phase.")] = 5.0,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Rounds of all four phases.")] = 3,
    keep: Keep = False,
    references: Annotated[
        bool,
        typer.Option(
            "--references/--no-references",
            help="Also measure the baseline's statements as an RPC and the credit model's required writes alone.",
        ),
    ] = True,
    no_fail: NoFail = False,
    json_out: JsonOut = False,
) -> None:
    """spend_credits throughput for one hot user and for random users, against a bare baseline.
    Exit 1 when a target ratio is missed (unless --no-fail)."""
    from kwq8.bench import credits as bench

    show = partial(_print_credits, clients, rounds, seconds)
    options = {"clients": clients, "users": users, "seconds": seconds, "rounds": rounds, "references": references}
    result = _measure(bench.run_on_stack, json_out, show, keep=keep, **options)
    if result.audit_violations:
        raise Kwq8Error("the ledger audit found violations after the benchmark")
    _missed(result.missed_targets(), no_fail)
