"""Errors of ``chaoslab export``.

ExportError (a ScenarioError)      the run cannot be exported as asked: exit 2
└── SeriesMissing                  the run directory holds no usable series.json
"""

from __future__ import annotations

from scenarios.exceptions import ScenarioError


class ExportError(ScenarioError):
    """A run, or what it recorded, cannot be turned into a promtool test."""


class SeriesMissing(ExportError):
    """The run recorded no series (older run, or Prometheus could not be asked)."""


class ExportFailed(ExportError):
    """promtool is missing, or fails on the file the export just wrote: the lab's fault."""


__all__ = ["ExportError", "ExportFailed", "SeriesMissing"]
