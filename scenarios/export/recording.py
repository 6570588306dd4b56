"""The raw series the loaded alert rules read, recorded at the end of every run.

    <out_dir>/series.json

``chaoslab export promtool`` replays a run in ``promtool test rules``, which
needs the samples the rules saw, not a resampled curve: for every vector
selector of every loaded alerting rule, every stored sample from a lead-in
before the run (the longest rule window plus the longest ``for:``, so the
first evaluations of the run see full windows) to its end, at the times they
were scraped. The loaded rule files are kept too (source path, scale, the
text Prometheus loaded), so the export writes exactly what ran.

A recording is a record, never a verdict: whatever goes wrong (Prometheus
unreachable, a rule file that cannot be read) is listed in ``errors`` and in
the journal's ``series_errors``, and the run's status stays what it was.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from assertions import PrometheusClient
from assertions.exceptions import AssertionsError
from assertions.promql import MatrixResult
from scenarios.export.exceptions import ExportError, SeriesMissing
from scenarios.export.rules import AlertRule, alert_rules, longest_window_s, selectors
from scenarios.journal import Journal, write_atomic
from stack.alerting.prometheus import PrometheusConfig
from stack.profile import TargetProfile
from stack.state import StackState

SERIES_FILE = "series.json"
LEAD_MARGIN_S = 5.0


class RuleFileRecord(BaseModel):
    """One rule file as Prometheus loaded it."""

    source: str = Field(description="the rule file as written (production windows)")
    loaded: str = Field(description="the file Prometheus loaded (the scaled copy below scale 1)")
    scale: str = Field(description="time scale of the loaded copy, e.g. 1/30")
    text: str = Field(description="the loaded file's content")


class SelectorSeries(BaseModel):
    """Every raw sample of one selector over the recording window."""

    selector: str
    result: MatrixResult | None = None


class SeriesRecording(BaseModel):
    """What ``series.json`` holds."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    window_start: datetime = Field(description="start of the recording: the run minus a lead-in")
    scrape_interval_s: float
    evaluation_interval_s: float
    rule_files: list[RuleFileRecord] = Field(default_factory=list)
    selectors: list[SelectorSeries] = Field(default_factory=list)
    alerts: MatrixResult | None = Field(
        default=None,
        description="raw ALERTS samples (pending and firing), stamped with each rule evaluation",
    )
    errors: list[str] = Field(default_factory=list)

    def rules(self) -> list[AlertRule]:
        return [r for f in self.rule_files for r in alert_rules(f.text, f.loaded)]


def _rule_files(state: StackState, profile: TargetProfile | None) -> list[RuleFileRecord]:
    loaded = [] if state.profile is None else list(state.profile.rule_files)
    sources = [] if profile is None else [str(p) for p in profile.rule_paths()]
    scale = "1" if state.profile is None else state.profile.rule_time_scale
    if not loaded or (scale == "1" and sources):  # the rule files loaded as written
        loaded, scale = sources, "1"
    if len(sources) != len(loaded):
        sources = loaded
    return [
        RuleFileRecord(source=src, loaded=path, scale=scale, text=Path(path).read_text())
        for src, path in zip(sources, loaded, strict=True)
    ]


def collect(
    state: StackState, profile: TargetProfile | None, journal: Journal
) -> SeriesRecording | None:
    """Ask Prometheus for the rules' series over the run; None when the stack loads no rules."""
    started = journal.started_at
    finished = journal.finished_at or started
    if not state.endpoints.prometheus_url:
        return None
    recording = SeriesRecording(
        run_id=journal.run_id,
        started_at=started,
        finished_at=finished,
        window_start=started,
        scrape_interval_s=PrometheusConfig.scrape_interval_s,
        evaluation_interval_s=PrometheusConfig.evaluation_interval_s,
    )
    try:
        recording.rule_files = _rule_files(state, profile)
        rules = recording.rules()
        wanted = list(dict.fromkeys(s for rule in rules for s in selectors(rule.expr)))
    except (OSError, ExportError) as exc:
        recording.errors.append(f"loaded rule files: {exc}")
        return recording
    if not recording.rule_files:
        return None
    lead = longest_window_s(rules) + max((r.for_s for r in rules), default=0.0) + LEAD_MARGIN_S
    recording.window_start = started - timedelta(seconds=lead)
    with PrometheusClient(state.endpoints.prometheus_url) as prometheus:
        for selector in wanted:
            try:
                result = prometheus.raw_samples(selector, recording.window_start, finished)
            except AssertionsError as exc:
                recording.errors.append(f"series of {selector}: {exc}")
                result = None
            recording.selectors.append(SelectorSeries(selector=selector, result=result))
        try:
            recording.alerts = prometheus.raw_samples("ALERTS", recording.window_start, finished)
        except AssertionsError as exc:
            recording.errors.append(f"alert states: {exc}")
    return recording


def record(
    state: StackState, profile: TargetProfile | None, journal: Journal, out_dir: Path
) -> list[str]:
    """Collect and write ``series.json`` (atomically); the problems, for the journal.

    Never raises for the recording's sake: a run that passed stays passed.
    """
    try:
        recording = collect(state, profile, journal)
        if recording is None:
            return []
        write_atomic(out_dir / SERIES_FILE, recording.model_dump_json() + "\n")
    except (OSError, AssertionsError, ExportError, ValueError) as exc:
        return [f"series.json not written: {type(exc).__name__}: {exc}"]
    return list(recording.errors)


def load_recording(run_dir: Path) -> SeriesRecording:
    """``run_dir/series.json``; :class:`SeriesMissing` saying why it cannot be used."""
    path = run_dir / SERIES_FILE
    if not path.is_file():
        raise SeriesMissing(
            f"{run_dir} has no {SERIES_FILE}: the run recorded no series "
            "(a run from before series were recorded, or a stack that loads no alert rules)"
        )
    try:
        recording = SeriesRecording.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise SeriesMissing(f"{path} cannot be read: {exc}") from None
    if recording.errors:
        raise SeriesMissing(
            f"{path}: the run could not record every series: " + "; ".join(recording.errors)
        )
    return recording


__all__ = [
    "SERIES_FILE",
    "RuleFileRecord",
    "SelectorSeries",
    "SeriesRecording",
    "collect",
    "load_recording",
    "record",
]
