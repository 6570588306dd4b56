"""The run report: one self-contained ``report.html`` beside the journal.

No script, no stylesheet or font from elsewhere, no image file: the timeline
is inline SVG, the waterfall an HTML table, the styles inline. The only links
out are the relative one to Locust's own report (``load/locust.html``) and,
when the run recorded it, the Bugsink the run used (useful while that stack is
still up).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from assertions.engine import Verdict
from scenarios.journal import JUDGEMENTS, ExpectationJudgement, Journal, write_atomic
from scenarios.loadmodel import LoadFigures
from scenarios.report.rundir import RunDir, read_run_dir
from scenarios.report.series import offset
from scenarios.report.templating import environment
from scenarios.report.timeline import render_timeline
from scenarios.report.waterfall import WATERFALL_CSS, render_waterfall

REPORT_FILE = "report.html"


def replay_command(journal: Journal) -> str:
    """The command that replays the run: same scenario, same seed, same mode."""
    command = f"chaoslab run {journal.scenario}"
    if journal.seed is not None:
        command += f" --seed {journal.seed}"
    if journal.control is not None:
        command += " --control"
    elif journal.no_fault:
        command += " --no-fault"
    return command


def fmt_s(value: float | None) -> str:
    """Seconds as the journal records them (three decimals), or an em dash."""
    return "—" if value is None else f"{value:.3f}"


@dataclass(frozen=True)
class ExpectationRow:
    verdict: Verdict
    detected_offset_s: float | None
    judgement: ExpectationJudgement | None


@dataclass(frozen=True)
class LoadRow:
    name: str
    figures: LoadFigures

    @property
    def error_pct(self) -> float:
        f = self.figures
        return 100.0 * f.failures / f.requests if f.requests else 0.0


def _expectation_rows(journal: Journal) -> list[ExpectationRow]:
    judged = {j.id: j for j in journal.control.judgements} if journal.control else {}
    return [
        ExpectationRow(
            verdict=v,
            detected_offset_s=offset(v.detected_at, journal.started_at) if v.detected_at else None,
            judgement=judged.get(v.id),
        )
        for v in journal.expectations
    ]


def _load_rows(run: RunDir) -> list[LoadRow]:
    load = run.journal.load
    rows = [
        LoadRow("before", load.windows.before),
        LoadRow("during", load.windows.during),
        LoadRow("after", load.windows.after),
        LoadRow("whole", load),
    ]
    if run.control is not None:
        rows.append(LoadRow("control", run.control.journal.load))
    return rows


def _when(at: datetime, origin: datetime) -> str:
    return f"{offset(at, origin):+.1f} s"


def render_html(run: RunDir) -> str:
    """The page of ``run`` as text."""
    journal = run.journal
    evidence = run.evidence
    timeline = render_timeline(run)
    trace = evidence.slowest_trace if evidence else None
    locust = run.locust_html
    bugsink = evidence.bugsink_url.rstrip("/") if evidence and evidence.bugsink_url else ""
    template = environment().get_template("report.html.j2")
    return template.render(
        run=run,
        journal=journal,
        evidence=evidence,
        title=run.title,
        story=run.story,
        replay=run.drill.replay() if run.drill else replay_command(journal),
        timeline=timeline,
        expectations=_expectation_rows(journal),
        judgements_explained=JUDGEMENTS,
        load_rows=_load_rows(run),
        locust_link=os.path.relpath(locust, run.path) if locust else None,
        trace=trace,
        waterfall=render_waterfall(trace) if trace is not None else None,
        waterfall_css=WATERFALL_CSS,
        bugsink=bugsink,
        fmt_s=fmt_s,
        when=lambda at: _when(at, journal.started_at),
    )


def render_report(run_dir: Path) -> Path:
    """Read ``run_dir`` and write ``run_dir/report.html`` atomically; returns its path.

    ``run_dir`` may also be the path of a ``journal.json``. Raises
    :class:`~scenarios.exceptions.ReportError` when there is no readable journal.
    """
    run = read_run_dir(run_dir)
    path = run.path / REPORT_FILE
    write_atomic(path, render_html(run))
    return path


__all__ = ["REPORT_FILE", "render_html", "render_report", "replay_command"]
