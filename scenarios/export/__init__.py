"""``chaoslab export``: a recorded run turned into a test that needs no stack.

* :mod:`scenarios.export.recording` — ``series.json``, the raw series the
  loaded alert rules read, written at the end of every run;
* :mod:`scenarios.export.rules` — what the rules read, parsed from PromQL;
* :mod:`scenarios.export.series` — promtool's expanding notation (``1+2x3``,
  ``_``, ``stale``), written compactly and read back;
* :mod:`scenarios.export.replay` — a recording on promtool's clock, and where
  to check each alert;
* :mod:`scenarios.export.promtool` — a ``promtool test rules`` file from a run
  and its control run; :mod:`scenarios.export.rulefiles` — the rules it names,
  regenerated from their source; :mod:`scenarios.export.computed` — running
  promtool and reading its report;
* :mod:`scenarios.export.command` — ``chaoslab export promtool RUN_DIR``.
"""

from scenarios.export.exceptions import ExportError, ExportFailed, SeriesMissing
from scenarios.export.promtool import ExportSummary, GroupSummary, export
from scenarios.export.recording import SERIES_FILE, SeriesRecording, load_recording
from scenarios.export.recording import record as record_series
from scenarios.export.rulefiles import staged

__all__ = [
    "SERIES_FILE",
    "ExportError",
    "ExportFailed",
    "ExportSummary",
    "GroupSummary",
    "SeriesMissing",
    "SeriesRecording",
    "export",
    "load_recording",
    "record_series",
    "staged",
]
