"""Errors raised by the scenarios package.

Tree::

    ScenarioError                 root of everything scenarios raise
    ├── ScenarioInvalid           a scenario file is wrong (each problem with file and line)
    ├── ScenarioNotFound          no catalog scenario and no file by that name
    ├── LoadFailed                Locust died, exited with an error or stopped serving requests
    ├── FaultError                a fault (or its undo) could not be applied or never took effect
    ├── LabNotReady               the stack is not fit for a run (leftover faults, alerts firing)
    ├── ScenarioRunError          the pytest plugin could not run a scenario, or got no verdict
    ├── ReportError               a run directory or its journal cannot be rendered
    └── RunAborted                a run was interrupted (SIGINT/SIGTERM, ``chaoslab panic``)

A failure of the lab (``LoadFailed``, ``FaultError``, ``LabNotReady``, any
``stack.StackError``) ends a run as ``error`` (exit 3); only an expectation
that was not met makes it ``failed`` (exit 1).
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


class LoadFailed(ScenarioError):
    """Locust exited with an error, died, or served no request for too long."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message + (f"\n{log_tail}" if log_tail else ""))
        self.log_tail = log_tail


class FaultError(ScenarioError):
    """A fault (or its undo) could not be applied, or never took effect."""


class LabNotReady(ScenarioError):
    """The stack cannot take a run now (faults left by a dead run, alerts already firing)."""


class ScenarioRunError(ScenarioError):
    """The pytest plugin could not run a scenario, or a run ended with no verdict for an item."""


class ReportError(ScenarioError):
    """A run directory or its journal cannot be rendered."""


class DrillError(ScenarioError):
    """A game-day drill cannot do what was asked."""


class DrillInvalid(DrillError):
    """Bad drill input or state (no drill running, one already running...): exit 2."""
