"""Errors raised by the scenarios package.

Tree::

    ScenarioError                 root of everything scenarios raise
    ├── ScenarioInvalid           a scenario file is wrong (each problem with file and line)
    ├── ScenarioNotFound          no catalog scenario and no file by that name
    ├── LoadFailed                Locust exited with an error (in scenarios.load)
    └── RunAborted                a run was interrupted (SIGINT/SIGTERM)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ScenarioError(Exception):
    """Root of the scenarios package's errors."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.message}"


class ScenarioInvalid(ScenarioError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ScenarioNotFound(ScenarioError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(
            f"no scenario {name!r}: not a file, and the catalog has {', '.join(known) or 'none'}"
        )


class RunAborted(ScenarioError):
    def __init__(self, signal_name: str) -> None:
        super().__init__(f"run aborted by {signal_name}")
        self.signal_name = signal_name
