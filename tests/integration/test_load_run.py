"""Real Locust runs against a real target service (PostgreSQL, classifier, uvicorn)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from scenarios.load import LoadRun
from scenarios.loadmodel import LoadSpec, ReplayShape
from stack import apps
from stack.postgres import PostgresCluster

pytestmark = pytest.mark.integration


class Target:
    def __init__(self, process: apps.AppProcess, log_file: Path) -> None:
        self.process = process
        self.log_file = log_file

    @property
    def url(self) -> str:
        return self.process.url

    def api_requests(self) -> int:
        """``http_requests_total`` summed over the document routes."""
        text = httpx.get(self.url + "/metrics", timeout=5).text
        return int(
            sum(
                sample.value
                for family in text_string_to_metric_families(text)
                if family.name == "http_requests"
                for sample in family.samples
                if sample.name == "http_requests_total"
                and sample.labels["route"].startswith("/api/documents")
            )
        )

    def api_log_lines(self) -> list[dict[str, Any]]:
        lines = self.log_file.read_text().splitlines() if self.log_file.exists() else []
        events = [json.loads(line) for line in lines if line.strip()]
        return [
            event
            for event in events
            if event.get("event") == "http.request"
            and str(event.get("route", "")).startswith("/api/documents")
        ]

    def wait_for_log_lines(self, run_id: str, at_least: int) -> list[dict[str, Any]]:
        """The target's access-log lines (written by a background thread) once enough arrived."""
        deadline = time.monotonic() + 15
        while True:
            lines = self.api_log_lines()
            if sum(1 for e in lines if e.get("run_id") == run_id) >= at_least:
                return lines
            if time.monotonic() > deadline:
                return lines
            time.sleep(0.2)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    logs = tmp_path_factory.mktemp("load-stack")
    log_file = logs / "target.jsonl"
    with (
        PostgresCluster() as postgres,
        apps.classifier(logs) as classifier,
        apps.target(
            logs,
            {
                "TARGET_DSN": postgres.dsn(),
                "TARGET_DOWNSTREAM_URL": classifier.url,
                "TARGET_LOG_FILE": str(log_file),
            },
        ) as process,
    ):
        yield Target(process, log_file)


def test_steady_run_against_the_real_target(target: Target, tmp_path: Path) -> None:
    spec = LoadSpec(run_id="it-steady-1", duration_s=8, users=5, spawn_rate=5, seed=3)
    before = target.api_requests()
    run = LoadRun(spec, target.url, tmp_path / "load")
    started = time.monotonic()
    run.start()
    outcome = run.wait()
    elapsed = time.monotonic() - started

    # the shape ended the run by itself, well before the hard deadline
    assert outcome.exit_code == 0
    assert not outcome.timed_out
    assert not outcome.stopped
    assert not run.running()
    assert elapsed < spec.duration_s + run.margin_s

    figures = run.figures()
    assert figures.requests > 0
    assert figures.failures == 0
    assert 0 < figures.p50_ms <= figures.p95_ms <= figures.p99_ms
    # the request log and Locust's own stats agree (up to requests in flight at the stop)
    locust_requests, locust_failures = run.locust_totals()
    assert locust_failures == 0
    assert abs(locust_requests - figures.requests) <= spec.users

    # the target saw them all, and every one carried the run id
    seen = target.api_requests() - before
    assert figures.requests <= seen <= figures.requests + spec.users
    lines = target.wait_for_log_lines(spec.run_id, figures.requests)
    assert [e for e in lines if e.get("run_id") is None] == []
    assert sum(1 for e in lines if e.get("run_id") == spec.run_id) >= figures.requests
    routes = {e["route"] for e in lines if e.get("run_id") == spec.run_id}
    assert routes == {
        "/api/documents",
        "/api/documents/{document_id}",
        "/api/documents/{document_id}/reprocess",
    }

    # windows on either side of the midpoint both saw load, and add up to the whole run
    records = run.records()
    first, last = records[0].started, records[-1].finished
    middle = (first + last) / 2
    early, late = run.window_stats(first, middle), run.window_stats(middle, last + 1)
    assert early.requests > 0
    assert late.requests > 0
    assert early.requests + late.requests == figures.requests

    report = run.report([(middle - 1, middle + 1)])
    windows = report.windows
    assert windows.before.requests > 0
    assert windows.during.requests > 0
    assert windows.after.requests > 0
    total = windows.before.requests + windows.during.requests + windows.after.requests
    assert total == report.requests == figures.requests

    # Locust's per-second history: the users it ran, cumulative totals that only grow
    # (its last row may precede the final few requests of the summary)
    timeline = run.timeline()
    assert max(point.users for point in timeline) == spec.users
    totals = [point.total_requests for point in timeline]
    assert totals == sorted(totals)
    assert 0 < totals[-1] <= locust_requests


def test_replay_of_a_recorded_curve(target: Target, tmp_path: Path) -> None:
    curve = tmp_path / "recorded.csv"
    curve.write_text("t_seconds,users\n0,1\n6,4\n12,2\n")
    shape = ReplayShape(path=curve, time_scale=2)  # 12 recorded seconds in 6
    spec = LoadSpec(run_id="it-replay-1", duration_s=60, shape=shape, seed=4)
    run = LoadRun(spec, target.url, tmp_path / "load")
    started = time.monotonic()
    run.start()
    outcome = run.wait()

    assert outcome.exit_code == 0
    assert not outcome.timed_out
    assert not outcome.stopped
    assert time.monotonic() - started < 30  # the curve's 6 s, not the 60 s cap
    figures = run.figures()
    assert figures.requests > 0
    assert figures.failures == 0
    users = [point.users for point in run.timeline()]
    assert 2 <= max(users) <= 4  # followed the curve up, never past its peak


def test_stop_ends_a_long_run_early_with_its_results(target: Target, tmp_path: Path) -> None:
    spec = LoadSpec(run_id="it-stop-1", duration_s=300, users=3, spawn_rate=3)
    run = LoadRun(spec, target.url, tmp_path / "load")
    with run:
        deadline = time.monotonic() + 30
        while run.live().requests == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        live = run.live()
        assert live.requests > 0
        assert live.rps > 0
        assert live.error_rate == 0.0
        outcome = run.stop()
    assert outcome is not None
    assert outcome.stopped
    assert outcome.exit_code == 0
    assert not run.running()
    assert run.locust_totals()[0] > 0  # Locust wrote its summary on SIGTERM
    assert run.figures().requests > 0


def test_distributed_run_with_two_workers(target: Target, tmp_path: Path) -> None:
    spec = LoadSpec(run_id="it-dist-1", duration_s=6, users=4, spawn_rate=4, workers=2)
    run = LoadRun(spec, target.url, tmp_path / "load")
    run.start()
    outcome = run.wait()

    assert outcome.exit_code == 0
    assert not outcome.timed_out
    assert all(not worker.running() for worker in run.workers)
    logs = sorted((tmp_path / "load").glob("requests-*.csv"))
    assert len(logs) == 2  # one per worker, none from the master
    assert all(len(path.read_text().splitlines()) > 1 for path in logs)
    figures = run.figures()
    assert figures.failures == 0
    assert abs(run.locust_totals()[0] - figures.requests) <= spec.users
