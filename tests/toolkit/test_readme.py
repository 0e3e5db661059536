"""The command blocks of README.md and docs/*.md, run as a new operator would: in a fresh copy of
the checkout, against a stack of its own. A block is fenced as `bash runnable` (run here) or
`bash not-runnable (why)`; an unmarked bash block fails the suite, so none can rot unnoticed.
The README's blocks run first (they start the stack), then each doc's in file-name order, all in
the same copy and stack."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kwq8.pgserver import free_port, state_root

from ..conftest import ROOT, run_cli

FENCE = re.compile(r"^```bash(?P<info>[^\n]*)\n(?P<body>.*?)^```", re.MULTILINE | re.DOTALL)
# Shared with the checkout instead of copied: the venv's editable install and the npm packages.
LINKED = (".venv", "node_modules")
SKIPPED = {".git", ".pg", ".pytest_cache", ".ruff_cache", ".mypy_cache", "__pycache__", *LINKED}


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def doc_blocks() -> list[tuple[str, int, str, str]]:
    """(file relative to the checkout, line, info string, body) of every ```bash block, in run order."""
    blocks = []
    for path in documents():
        text = path.read_text()
        name = str(path.relative_to(ROOT))
        blocks += [
            (name, text.count("\n", 0, m.start()) + 1, m["info"].strip(), m["body"]) for m in FENCE.finditer(text)
        ]
    return blocks


def test_every_bash_block_says_whether_it_runs() -> None:
    blocks = doc_blocks()
    assert sum(info == "runnable" for _, _, info, _ in blocks) >= 3
    runnable = [body for _, _, info, body in blocks if info == "runnable"]
    # The fresh-checkout test checks these blocks' output; they must stay runnable wherever they live.
    assert any(name == "README.md" and info == "runnable" for name, _, info, _ in blocks)
    assert any(body.startswith("scripts/up") for body in runnable)
    assert any("spend_credits" in body for body in runnable)
    assert any("kwq8 db new" in body and "kwq8 db downgrade" in body for body in runnable)
    unmarked = [
        f"{name}:{line}"
        for name, line, info, _ in blocks
        if info != "runnable" and not info.startswith("not-runnable (")
    ]
    assert not unmarked, f"{unmarked}: mark each ```bash block runnable or not-runnable (why)"


@pytest.fixture
def fresh_checkout(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    # The copy shares .venv: were its install stamp stale, the copy's scripts/install would
    # reinstall the toolkit from the copy and point the shared venv at a temporary directory.
    stamp = ROOT / ".venv" / ".kwq8-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != want:
        pytest.fail("the .venv is older than pyproject.toml: run scripts/install first")
    copy = tmp_path / "kwq8-clone"
    shutil.copytree(ROOT, copy, ignore=lambda _d, names: [n for n in names if n in SKIPPED])
    for name in LINKED:
        (copy / name).symlink_to(ROOT / name)
    state = state_root() / f"readme-{uuid.uuid4().hex[:8]}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KWQ8_", "PYTEST", "VIRTUAL_ENV"))},
        "KWQ8_STATE_DIR": str(state),
        "KWQ8_DB_PORT": str(free_port()),
        "PATH": "/usr/local/bin:/usr/bin:/bin",  # nothing of ours on it: the README says how
        "NO_COLOR": "1",
    }
    yield copy, env
    run_cli("stack", "stop", cwd=copy, env=env)
    shutil.rmtree(state, ignore_errors=True)


def test_runnable_blocks_work_in_a_fresh_checkout(fresh_checkout: tuple[Path, dict[str, str]]) -> None:
    copy, env = fresh_checkout
    for name, line, info, body in doc_blocks():
        if info != "runnable":
            continue
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", body],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"{name}:{line}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, f"{name}:{line}\n{proc.stderr}"
        if body.startswith("scripts/up"):
            assert "kwq8 is not on your PATH: export PATH=" in proc.stderr, proc.stderr
        if "spend_credits" in body:
            assert '"balance"' in proc.stdout and "CREDIT_001" not in proc.stdout + proc.stderr, proc.stdout
