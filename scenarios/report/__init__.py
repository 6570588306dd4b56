"""Run reports and the detection matrix.

``render_report(run_dir)`` writes ``report.html`` beside a run's journal: one
self-contained page (inline SVG timeline, tables, span waterfall) that opens
offline. ``build_matrix`` / ``write_matrix`` turn journals of many scenarios
into ``matrix.html`` and ``matrix.md``; ``journals_in`` finds them.
"""

from __future__ import annotations

from scenarios.exceptions import ReportError
from scenarios.report.matrix import (
    SIGNAL_KINDS,
    Cell,
    Matrix,
    MatrixRow,
    build_matrix,
    journals_in,
    write_matrix,
)
from scenarios.report.page import REPORT_FILE, render_html, render_report, replay_command
from scenarios.report.rundir import RunDir, read_run_dir
from scenarios.report.svgcheck import empty_panels, plotted_points
from scenarios.report.timeline import Timeline, render_timeline
from scenarios.report.waterfall import (
    WATERFALL_CSS,
    WaterfallRow,
    render_waterfall,
    waterfall_rows,
)

__all__ = [
    "REPORT_FILE",
    "SIGNAL_KINDS",
    "WATERFALL_CSS",
    "Cell",
    "Matrix",
    "MatrixRow",
    "ReportError",
    "RunDir",
    "Timeline",
    "WaterfallRow",
    "build_matrix",
    "empty_panels",
    "journals_in",
    "plotted_points",
    "read_run_dir",
    "render_html",
    "render_report",
    "render_timeline",
    "render_waterfall",
    "replay_command",
    "waterfall_rows",
    "write_matrix",
]
