"""Reading SQL files: statement splitting and error locations."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

NO_TRANSACTION_MARKER = re.compile(r"^\s*--\s*kwq8:\s*no-transaction\b", re.IGNORECASE | re.MULTILINE)
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read_sql(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def is_no_transaction(text: str) -> bool:
    """A file whose statements must run outside a transaction (CREATE INDEX CONCURRENTLY...)."""
    head = "\n".join(text.splitlines()[:5])
    return bool(NO_TRANSACTION_MARKER.search(head))


def line_of(text: str, position: int | None) -> int | None:
    """1-based line of a 1-based character position, as Postgres reports positions."""
    if not position or position < 1:
        return None
    return text.count("\n", 0, position - 1) + 1


def split_statements(text: str) -> list[tuple[int, str]]:
    """Split SQL into statements on top-level semicolons.

    Aware of comments, quoted identifiers, string literals (including E'' escapes), dollar
    quotes and SQL-standard `BEGIN ATOMIC ... END` function bodies. Returns (1-based start line,
    statement) pairs, without empty or comment-only statements.
    """
    statements: list[tuple[int, str]] = []
    start = 0
    i = 0
    n = len(text)
    atomic_depth = 0  # > 0 inside BEGIN ATOMIC: nested CASE/BEGIN ... END pairs
    previous_word = ""
    while i < n:
        ch = text[i]
        if ch == "-" and text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end == -1 else end + 1
        elif ch == "/" and text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif ch in ("'", '"'):
            escapes = ch == "'" and i > 0 and text[i - 1] in "eE" and (i < 2 or not _is_word(text[i - 2]))
            i += 1
            while i < n:
                if escapes and text[i] == "\\":
                    i += 2
                    continue
                if text[i] == ch:
                    if i + 1 < n and text[i + 1] == ch:
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif ch == "$":
            match = _DOLLAR_TAG.match(text, i)
            if match and not (i > 0 and _is_word(text[i - 1])):
                tag = match.group(0)
                end = text.find(tag, match.end())
                i = n if end == -1 else end + len(tag)
            else:
                i += 1
        elif _is_word(ch) and not (i > 0 and _is_word(text[i - 1])):
            j = i
            while j < n and (_is_word(text[j]) or text[j] == "$"):
                j += 1
            word = text[i:j].lower()
            if word == "atomic" and previous_word == "begin" and atomic_depth == 0:
                atomic_depth = 1
            elif atomic_depth and word in ("case", "begin"):
                atomic_depth += 1
            elif atomic_depth and word == "end":
                atomic_depth -= 1
            previous_word = word
            i = j
        elif ch == ";" and not atomic_depth:
            _append(statements, text, start, i)
            start = i + 1
            previous_word = ""
            i += 1
        else:
            i += 1
    _append(statements, text, start, n)
    return statements


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _append(out: list[tuple[int, str]], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    if not _has_code(chunk):
        return
    leading = len(chunk) - len(chunk.lstrip())
    out.append((text.count("\n", 0, start + leading) + 1, chunk.strip()))


def _has_code(chunk: str) -> bool:
    stripped = re.sub(r"--[^\n]*", "", chunk)
    stripped = re.sub(r"/\*.*?\*/", "", stripped, flags=re.DOTALL)
    return bool(stripped.strip())
