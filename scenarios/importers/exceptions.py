"""Errors of the importers.

Tree::

    ImporterError             root of everything the importers raise
    └── ExperimentRejected    the experiment cannot become a scenario: every problem
                              at once, each with its JSON path (exit 2)

A scenario the importer built that does not validate is a bug of the importer,
raised as :class:`ImporterError` itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class ImporterError(Exception):
    """Root of the importers' errors."""


@dataclass(frozen=True)
class Finding:
    """Something about one place in the experiment (``method[2].provider.module``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ExperimentRejected(ImporterError):
    """The experiment holds what the lab cannot express; every such place is listed."""

    def __init__(self, source: Path, problems: list[Finding]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


__all__ = ["ExperimentRejected", "Finding", "ImporterError"]
