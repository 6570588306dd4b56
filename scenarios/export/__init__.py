"""``chaoslab export``: a recorded run turned into a test that needs no stack.

* :mod:`scenarios.export.recording` — ``series.json``, the raw series the
  loaded alert rules read, written at the end of every run;
* :mod:`scenarios.export.series` — promtool's expanding notation (``1+2x3``,
  ``_``, ``stale``), written compactly and read back;
* :mod:`scenarios.export.promtool` — a ``promtool test rules`` file from a run
  and its control run;
* :mod:`scenarios.export.command` — ``chaoslab export promtool RUN_DIR``.
"""

from scenarios.export.exceptions import ExportError, ExportFailed, SeriesMissing
from scenarios.export.recording import SERIES_FILE, SeriesRecording, load_recording
from scenarios.export.recording import record as record_series

__all__ = [
    "SERIES_FILE",
    "ExportError",
    "ExportFailed",
    "SeriesMissing",
    "SeriesRecording",
    "load_recording",
    "record_series",
]
