"""The timeline: stacked matplotlib panels on one time axis, rendered to inline SVG.

Panels, top to bottom, all sharing the x axis (seconds from the run start):
faults, requests per second, latency (p50/p95/p99), error rate, one panel per
metric expectation's recorded series, alert states with the webhook's
notifications, and one detection marker per expectation coloured by verdict.
Every fault is a translucent band on every panel.

A panel with nothing to plot is left out (and named in :attr:`Timeline.missing`),
so an empty axes in the SVG always means a bug; every axes carries the id
``panel-<name>`` and every data artist ``series-<name>`` for
:mod:`scenarios.report.svgcheck` to count what was drawn.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after matplotlib.use: the Agg backend comes first
from matplotlib.axes import Axes

from assertions.expectations import MetricExpectation
from assertions.promql import MatrixResult
from scenarios.drill.model import DrillJournal
from scenarios.report.rundir import RunDir
from scenarios.report.series import (
    Band,
    SecondBin,
    alert_notices,
    alert_states,
    detections,
    fault_bands,
    load_per_second,
    offset,
)

WIDTH_IN = 11.0
PANEL_IN = 1.55
MAX_LINES = 6
VERDICT_COLOURS = {
    "passed": "#1a7f37",
    "failed": "#cf222e",
    "error": "#8c959f",
    "pending": "#bf8700",
}
DECLARATION_COLOURS = {
    "right": "#1a7f37",
    "partly": "#bf8700",
    "wrong": "#cf222e",
    "seen": "#0969da",
    "before the fault": "#8c959f",
}
HINT_COLOUR = "#8250df"
STATE_COLOURS = {"pending": "#f2cc60", "firing": "#cf222e"}
FAULT_COLOUR = "#fb8f44"
NOTICE_MARKERS = {"firing": "^", "resolved": "v"}

Draw = Callable[[Axes], None]


@dataclass
class _Panel:
    name: str
    title: str
    height: float
    draw: Draw
    bands: bool = True


@dataclass
class Timeline:
    """The rendered timeline: the SVG text and the panels that had nothing to show."""

    svg: str
    panels: list[str]
    missing: list[str] = field(default_factory=list)


def _nan_if_empty(b: SecondBin, value: float) -> float:
    return value if b.requests else math.nan


def _label_of(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k not in ("__name__", "job", "instance")}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "value"


def _legend(ax: Axes) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)


def _panels(run: RunDir) -> tuple[list[_Panel], list[str]]:
    journal = run.journal
    origin = journal.started_at
    panels: list[_Panel] = []
    missing: list[str] = []
    bands = fault_bands(journal)
    if bands:

        def faults(ax: Axes) -> None:
            for row, band in enumerate(bands):
                ax.broken_barh(
                    [(band.start, max(band.end - band.start, 0.1))],
                    (row - 0.4, 0.8),
                    color=FAULT_COLOUR,
                    gid=f"series-fault-{row}",
                )
            ax.set_yticks(range(len(bands)), [b.label for b in bands], fontsize=7)
            ax.set_ylim(len(bands) - 0.5, -0.5)

        panels.append(_Panel("faults", "faults", 0.35 + 0.28 * len(bands), faults, bands=False))
    bins = load_per_second(run.requests, origin)
    if bins:
        xs = [b.t + 0.5 for b in bins]

        def rps(ax: Axes) -> None:
            ax.plot(xs, [b.requests for b in bins], color="#0969da", lw=1.2, gid="series-rps")
            ax.set_ylabel("req/s", fontsize=8)
            ax.set_ylim(bottom=0)

        def latency(ax: Axes) -> None:
            for name, colour, values in (
                ("p50", "#1a7f37", [_nan_if_empty(b, b.p50_ms) for b in bins]),
                ("p95", "#bf8700", [_nan_if_empty(b, b.p95_ms) for b in bins]),
                ("p99", "#cf222e", [_nan_if_empty(b, b.p99_ms) for b in bins]),
            ):
                ax.plot(xs, values, color=colour, lw=1.1, label=name, gid=f"series-{name}")
            finite = [b.p50_ms for b in bins if b.requests and b.p50_ms > 0]
            top = max((b.p99_ms for b in bins), default=0.0)
            if finite and top / min(finite) > 30:
                ax.set_yscale("log")
            ax.set_ylabel("ms", fontsize=8)
            _legend(ax)

        def errors(ax: Axes) -> None:
            ax.plot(
                xs,
                [100 * b.error_rate if b.requests else math.nan for b in bins],
                color="#cf222e",
                lw=1.2,
                gid="series-error-rate",
            )
            ax.set_ylabel("% failed", fontsize=8)
            ax.set_ylim(bottom=0, top=max(5.0, 105 * max(b.error_rate for b in bins)))

        panels.append(_Panel("rps", "requests per second (by finish time)", PANEL_IN, rps))
        panels.append(_Panel("latency", "latency per second", PANEL_IN, latency))
        panels.append(_Panel("errors", "error rate per second", PANEL_IN * 0.8, errors))
    else:
        missing.append("load: no per-request log (load/requests-*.csv)")
    evidence = run.evidence
    if evidence is None:
        missing.append("signals: no evidence.json in the run directory (an older run)")
    else:
        thresholds = _thresholds(run)
        for index, recorded in enumerate(evidence.series):
            result = recorded.result
            if result is None or not any(s.samples for s in result.series):
                missing.append(f"metric {recorded.expectation_id}: no samples recorded")
                continue
            panels.append(
                _Panel(
                    f"metric-{index}",
                    f"metric {recorded.expectation_id}: {recorded.query}",
                    PANEL_IN,
                    _metric_drawer(recorded.expectation_id, result, thresholds, origin),
                )
            )
        states = alert_states(evidence.alerts, origin, evidence.step_s)
        notices = alert_notices(evidence.notifications, origin)
        names = sorted({s.alert for s in states} | {n.alert for n in notices})
        if names:

            def alerts(ax: Axes) -> None:
                row_of = {name: row for row, name in enumerate(names)}
                for i, span in enumerate(states):
                    ax.broken_barh(
                        [(span.start, span.end - span.start)],
                        (row_of[span.alert] - 0.35, 0.7),
                        color=STATE_COLOURS.get(span.state, "#8c959f"),
                        gid=f"series-alert-{i}",
                    )
                for status, marker in NOTICE_MARKERS.items():
                    picked = [n for n in notices if n.status == status]
                    if picked:
                        ax.scatter(
                            [n.t for n in picked],
                            [row_of[n.alert] for n in picked],
                            marker=marker,
                            s=36,
                            color="black" if status == "firing" else "#1a7f37",
                            zorder=3,
                            label=f"webhook: {status}",
                            gid=f"series-notice-{status}",
                        )
                for state, colour in STATE_COLOURS.items():
                    ax.bar([0], [0], color=colour, label=state, width=0)
                ax.set_yticks(range(len(names)), names, fontsize=7)
                ax.set_ylim(len(names) - 0.5, -0.5)
                _legend(ax)

            panels.append(
                _Panel("alerts", "alerts (Prometheus ALERTS)", 0.4 + 0.3 * len(names), alerts)
            )
        else:
            missing.append("alerts: no alert was pending or firing, no webhook notification")
    marks = detections(journal.expectations, origin)
    if marks:
        run_end = offset(journal.finished_at, origin) if journal.finished_at else 0.0
        right = max([run_end, *(b.t + 1 for b in bins)])

        def detected(ax: Axes) -> None:
            for row, mark in enumerate(marks):
                colour = VERDICT_COLOURS.get(mark.status, "#8c959f")
                x = mark.t if mark.t is not None else right
                ax.scatter(
                    [x],
                    [row],
                    marker="o" if mark.t is not None else "x",
                    s=40,
                    color=colour,
                    zorder=3,
                    gid=f"series-detect-{row}",
                )
                note = (
                    f"{mark.time_to_detect_s:.1f}s after the fault"
                    if mark.time_to_detect_s is not None
                    else ("held" if mark.status == "passed" else f"not seen ({mark.status})")
                )
                ax.annotate(
                    note,
                    (x, row),
                    xytext=(6, 0),
                    textcoords="offset points",
                    fontsize=7,
                    va="center",
                    color=colour,
                )
            ax.set_yticks(range(len(marks)), [f"{m.kind} {m.id}" for m in marks], fontsize=7)
            ax.set_ylim(len(marks) - 0.5, -0.5)

        panels.append(
            _Panel(
                "detections",
                "detections (time of the first satisfying observation)",
                0.4 + 0.26 * len(marks),
                detected,
            )
        )
    if run.drill is not None and (run.drill.declarations or run.drill.hints):
        panels.append(_team_panel(run.drill, origin))
    return panels, missing


def _team_panel(drill: DrillJournal, origin: datetime) -> _Panel:
    """A drill's declarations, coloured by their verdict, and the hints."""
    rows: list[tuple[float, str, str, str]] = [
        (
            offset(d.at, origin),
            f"{d.by}: {d.text[:40]}",
            VERDICT_COLOURS["passed"]
            if d.correct
            else (VERDICT_COLOURS["error"] if d.before_fault else VERDICT_COLOURS["failed"]),
            "right" if d.correct else ("before the fault" if d.before_fault else "wrong"),
        )
        for d in drill.declarations
    ]
    rows += [
        (offset(h.at, origin), f"hint {h.level}", HINT_COLOUR, h.text[:50]) for h in drill.hints
    ]

    def team(ax: Axes) -> None:
        for row, (x, _label, colour, note) in enumerate(rows):
            ax.scatter(
                [x], [row], marker="D", s=36, color=colour, zorder=3, gid=f"series-team-{row}"
            )
            ax.annotate(
                note, (x, row), xytext=(6, 0), textcoords="offset points", fontsize=7,
                va="center", color=colour,
            )  # fmt: skip
        ax.set_yticks(range(len(rows)), [label for _x, label, _c, _n in rows], fontsize=7)
        ax.set_ylim(len(rows) - 0.5, -0.5)

    return _Panel("team", "the team (drill declarations and hints)", 0.4 + 0.26 * len(rows), team)


def _thresholds(run: RunDir) -> dict[str, tuple[str, float]]:
    if run.scenario is None:
        return {}
    return {
        e.id: (e.op, e.threshold)
        for e in run.scenario.expectations
        if isinstance(e, MetricExpectation) and not e.absent
    }


def _metric_drawer(
    exp_id: str,
    result: MatrixResult,
    thresholds: dict[str, tuple[str, float]],
    origin: datetime,
) -> Draw:
    def draw(ax: Axes) -> None:
        shown = [s for s in result.series if s.samples][:MAX_LINES]
        for i, series in enumerate(shown):
            ax.plot(
                [offset(s.at, origin) for s in series.samples],
                [s.value for s in series.samples],
                lw=1.2,
                label=_label_of(series.labels),
                gid=f"series-{exp_id}-{i}",
                marker="." if len(series.samples) < 3 else None,
            )
        if exp_id in thresholds:
            op, value = thresholds[exp_id]
            ax.axhline(value, color="#57606a", ls="--", lw=0.9, label=f"expected {op} {value:g}")
        if len(result.series) > MAX_LINES:
            ax.text(
                0.99,
                0.95,
                f"{MAX_LINES} of {len(result.series)} series",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=7,
            )
        _legend(ax)

    return draw


def _bands(ax: Axes, bands: Sequence[Band]) -> None:
    for band in bands:
        ax.axvspan(band.start, band.end, color=FAULT_COLOUR, alpha=0.13, lw=0, zorder=0)


_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)
_NAMESPACES = re.compile(r'\s+xmlns(:xlink)?="[^"]*"')


def _inline(svg: str) -> str:
    """SVG to inline in HTML: no prologue, DOCTYPE, metadata or namespace URL (SVG 2 href)."""
    svg = _XML_PROLOGUE.sub("", svg, count=1)
    svg = _METADATA.sub("", svg)
    return _NAMESPACES.sub("", svg).replace(" xlink:href=", " href=")


def render_timeline(run: RunDir) -> Timeline:
    """The timeline of ``run`` as inline SVG (an empty string when nothing can be plotted)."""
    panels, missing = _panels(run)
    if not panels:
        return Timeline(svg="", panels=[], missing=missing)
    bands = fault_bands(run.journal)
    with plt.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "chaoslab", "font.size": 8, "axes.titlesize": 8}
    ):
        fig, axes = plt.subplots(
            len(panels),
            1,
            sharex=True,
            figsize=(WIDTH_IN, sum(p.height for p in panels) * 1.3 + 0.8),
            height_ratios=[p.height for p in panels],
            squeeze=False,
        )
        try:
            for ax, panel in zip(axes[:, 0], panels, strict=True):
                ax.set_gid(f"panel-{panel.name}")
                if panel.bands:
                    _bands(ax, bands)
                panel.draw(ax)
                ax.set_title(panel.title, loc="left", fontsize=8)
                ax.grid(axis="x", color="#d0d7de", lw=0.5)
                ax.tick_params(labelsize=7)
            last = axes[-1, 0]
            last.set_xlabel("seconds from the run start", fontsize=8)
            last.set_xlim(left=min(0.0, *(b.start for b in bands)) if bands else 0.0)
            height = fig.get_figheight()
            fig.subplots_adjust(
                left=0.17, right=0.83, top=1 - 0.3 / height, bottom=0.5 / height, hspace=0.55
            )
            buffer = io.StringIO()
            fig.savefig(buffer, format="svg", metadata={"Date": None})
        finally:
            plt.close(fig)
    return Timeline(
        svg=_inline(buffer.getvalue()), panels=[p.name for p in panels], missing=missing
    )


__all__ = ["Timeline", "render_timeline"]
