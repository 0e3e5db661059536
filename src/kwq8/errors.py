"""Expected failures of the toolkit: shown to operators as one line and a hint, never a traceback."""

from __future__ import annotations


class Kwq8Error(Exception):
    """A failure the operator can act on. `exit_code` 2 means "could not reach or use the target"."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"
