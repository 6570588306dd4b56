"""The one error of ``chaoslab init``: why it cannot go on, with its exit code."""

from __future__ import annotations

from scenarios.session import EXIT_INVALID


class InitError(Exception):
    """Why ``init`` cannot go on, and the exit code that says so."""

    def __init__(self, message: str, code: int = EXIT_INVALID) -> None:
        super().__init__(message)
        self.code = code
