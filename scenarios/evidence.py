"""What a run leaves behind besides its verdicts: the signals, recorded while the stack is up.

    <out_dir>/evidence.json

At the end of every run (fault run and control run alike) the runner asks
each backend once more and saves what the report and later tools need, so
they work without a live stack:

* each metric expectation's PromQL series over the run, at the scrape step;
* the ``ALERTS`` series of every alert the scenario names or that fired
  (pending and firing states), and the webhook notifications of the run;
* the slowest trace of the run's fault window (all of it, every span);
* the Sentry issues tagged with the run id.

Anything a backend could not answer is listed in ``errors``: evidence is a
record, never a verdict, so it cannot fail a run.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field

from assertions import BugsinkClient, JaegerClient, NotificationLogClient, PrometheusClient
from assertions.alertmanager import Notification
from assertions.engine import RUN_RANGE
from assertions.exceptions import AssertionsError
from assertions.expectations import MetricExpectation, TraceExpectation
from assertions.promql import MatrixResult
from assertions.sentry import SentryIssue
from assertions.spans import Trace
from scenarios.journal import Journal, write_atomic
from scenarios.model import Scenario
from stack.state import Endpoints

EVIDENCE_FILE = "evidence.json"
STEP_S = 1.0
TRACE_SAMPLE = 50
ROLLING_RANGE = "30s"


class RecordedSeries(BaseModel):
    """One metric expectation's query over the run."""

    expectation_id: str
    query: str
    result: MatrixResult | None = None


class Evidence(BaseModel):
    """Everything recorded for one run (``evidence.json``)."""

    run_id: str
    started_at: datetime
    finished_at: datetime
    step_s: float = STEP_S
    series: list[RecordedSeries] = Field(default_factory=list)
    alerts: MatrixResult | None = Field(
        default=None, description="ALERTS{alertstate=pending|firing} over the run"
    )
    notifications: list[Notification] = Field(default_factory=list)
    slowest_trace: Trace | None = None
    sentry_issues: list[SentryIssue] = Field(default_factory=list)
    bugsink_url: str = ""
    errors: list[str] = Field(default_factory=list)


def _range_query(exp: MetricExpectation) -> str:
    """The expectation's query as a range query can ask it.

    A range query has one range for every step, so ``$__run_range`` (the time
    since the run started) becomes a rolling window of :data:`ROLLING_RANGE`.
    """
    return exp.query.replace(RUN_RANGE, ROLLING_RANGE)


def collect(scenario: Scenario, journal: Journal, endpoints: Endpoints) -> Evidence:
    """Ask every backend for what the run left; never raises for a backend's sake."""
    start = journal.started_at
    end = journal.finished_at or start
    evidence = Evidence(
        run_id=journal.run_id, started_at=start, finished_at=end, bugsink_url=endpoints.bugsink_url
    )
    prometheus = PrometheusClient(endpoints.prometheus_url)
    for exp in scenario.expectations:
        if isinstance(exp, MetricExpectation):
            query = _range_query(exp)
            try:
                result = prometheus.query_range(query, start, end, STEP_S)
            except AssertionsError as exc:
                evidence.errors.append(f"series of {exp.id}: {exc}")
                result = None
            evidence.series.append(
                RecordedSeries(expectation_id=exp.id, query=query, result=result)
            )
    try:
        evidence.alerts = prometheus.query_range("ALERTS", start, end, STEP_S)
    except AssertionsError as exc:
        evidence.errors.append(f"alert states: {exc}")
    try:
        evidence.notifications = NotificationLogClient(endpoints.webhook_url).notifications(
            since=start
        )
    except AssertionsError as exc:
        evidence.errors.append(f"webhook notifications: {exc}")
    evidence.slowest_trace = _slowest_trace(scenario, journal, endpoints, evidence)
    try:
        sentry = BugsinkClient(
            endpoints.bugsink_url, endpoints.sentry_api_token, endpoints.sentry_project_id
        )
        evidence.sentry_issues = sentry.issues(tags={"run_id": journal.run_id})
    except AssertionsError as exc:
        evidence.errors.append(f"Sentry issues: {exc}")
    return evidence


def _fault_window(journal: Journal) -> tuple[datetime, datetime]:
    starts = [f.started_at for f in journal.faults if f.started_at is not None]
    ends = [f.ended_at for f in journal.faults if f.ended_at is not None]
    end = journal.finished_at or journal.started_at
    if not starts:
        return journal.started_at, end
    return min(starts), max(ends, default=end)


def _slowest_trace(
    scenario: Scenario, journal: Journal, endpoints: Endpoints, evidence: Evidence
) -> Trace | None:
    services = {e.service for e in scenario.expectations if isinstance(e, TraceExpectation)}
    start, end = _fault_window(journal)
    client = JaegerClient(endpoints.traces_url)
    slowest: Trace | None = None
    try:
        for service in sorted(services or {"target"}):
            for trace in client.find_traces(
                service,
                tags={"chaoslab.run_id": journal.run_id},
                start=start - timedelta(seconds=1),
                end=end,
                limit=TRACE_SAMPLE,
            ):
                if slowest is None or trace.duration_s > slowest.duration_s:
                    slowest = trace
    except AssertionsError as exc:
        evidence.errors.append(f"slowest trace: {exc}")
    return slowest


def record(scenario: Scenario, journal: Journal, endpoints: Endpoints, out_dir: Path) -> Evidence:
    """Collect and write ``evidence.json`` (atomically) beside the journal."""
    evidence = collect(scenario, journal, endpoints)
    write_atomic(out_dir / EVIDENCE_FILE, evidence.model_dump_json(indent=1) + "\n")
    return evidence


def load_evidence(run_dir: Path) -> Evidence | None:
    path = run_dir / EVIDENCE_FILE
    if not path.is_file():
        return None
    return Evidence.model_validate_json(path.read_text())


__all__ = ["EVIDENCE_FILE", "Evidence", "RecordedSeries", "collect", "load_evidence", "record"]
