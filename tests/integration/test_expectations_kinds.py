"""The expectation engine against the real local stack: every kind passes and fails.

One local stack serves the module. Each test gets its own run id (sent as
``X-Chaoslab-Run``) and its own exception type, so signals of one test never
satisfy another's expectations even though the target's fault switches and
the backends are shared. Each kind is checked twice: the signal is there →
``passed`` with a time-to-detect; it is not → ``failed`` with a message that
shows the query and what was seen instead.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from assertions import HealthClient, LogReader, PrometheusClient
from assertions.engine import Engine, FaultSpan, Verdict, utcnow
from assertions.expectations import (
    AlertExpectation,
    AttributeCondition,
    Expectation,
    HealthExpectation,
    LogExpectation,
    MetricExpectation,
    SentryExpectation,
    TraceExpectation,
    Window,
)
from assertions.lab import Lab
from stack.local import LocalStack
from stack.ports import free_port

pytestmark = pytest.mark.integration

TICK_S = 0.5


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with LocalStack(tmp_path_factory.mktemp("expectations") / "state") as running:
        yield running


@pytest.fixture
def lab(stack: LocalStack) -> Lab:
    """The shared stack with a run id of this test's own (overrides the plugin's ``lab``)."""
    return Lab(stack.state, run_id=f"exp-{uuid.uuid4().hex[:12]}")


def window(fault: str, within: float) -> Window:
    return Window(fault=fault, within=within)


def settle(
    lab: Lab,
    expectations: Sequence[Expectation],
    faults: Mapping[str, FaultSpan],
    *,
    started: datetime,
    limit_s: float = 60.0,
) -> dict[str, Verdict]:
    """Poll like the runner does until every expectation settled on its own deadline."""
    engine = Engine(expectations, lab.backends(), started)
    stop = time.monotonic() + limit_s
    while not engine.done:
        assert time.monotonic() < stop, f"not settled in {limit_s}s: {engine.verdicts}"
        engine.poll(utcnow(), faults)
        if not engine.done:
            time.sleep(TICK_S)
    return {v.id: v for v in engine.verdicts}


@contextmanager
def storm(lab: Lab, exception_type: str, requests_per_s: float = 10.0) -> Iterator[FaultSpan]:
    """Every target request raises ``exception_type`` while requests of the lab's run flow."""
    stop = threading.Event()

    def traffic() -> None:
        with lab.target(timeout=5.0) as target:
            while not stop.is_set():
                target.get("/api/documents")
                stop.wait(1.0 / requests_per_s)

    with lab.fault("storm", exception_rate=1.0, exception_type=exception_type) as span:
        sender = threading.Thread(target=traffic, daemon=True)
        sender.start()
        try:
            yield span
        finally:
            stop.set()
            sender.join(timeout=10)


def quiet(lab: Lab) -> dict[str, FaultSpan]:
    """A window that opens now, with nothing injected."""
    return {"quiet": FaultSpan(utcnow())}


def send(lab: Lab, count: int, path: str = "/api/documents") -> None:
    with lab.target() as target:
        for _ in range(count):
            target.get(path)


# -- metric ------------------------------------------------------------------------------


def test_metric_passes_when_the_storm_is_counted(lab: Lab) -> None:
    query = 'sum(app_exceptions_total{job="target",type="MetricStormError"})'
    exp = MetricExpectation(id="counted", query=query, threshold=0, window=window("storm", 20))

    with storm(lab, "MetricStormError") as span:
        verdicts = settle(lab, [exp], lab.faults, started=span.started)

    verdict = verdicts["counted"]
    assert verdict.status == "passed", verdict.message
    assert verdict.passed
    assert verdict.time_to_detect_s is not None
    assert 0 <= verdict.time_to_detect_s < 20
    assert verdict.detected_at is not None
    assert verdict.detected_at >= span.started
    assert verdict.query == query
    assert verdict.observed.startswith("value ")


def test_metric_fails_showing_the_query_and_the_highest_value(lab: Lab) -> None:
    requests = 'sum(http_requests_total{job="target"})'
    never = 'sum(app_exceptions_total{job="target",type="NeverRaisedError"})'
    faults = quiet(lab)
    send(lab, 3)
    expectations = [
        MetricExpectation(id="too-high", query=requests, threshold=1e9, window=window("quiet", 3)),
        MetricExpectation(id="no-series", query=never, threshold=0, window=window("quiet", 3)),
    ]

    verdicts = settle(lab, expectations, faults, started=faults["quiet"].started)

    too_high = verdicts["too-high"]
    assert too_high.status == "failed"
    assert too_high.time_to_detect_s is None
    assert f"metric {requests} > 1e+09 did not surface in its window" in too_high.message
    assert f"query:    {requests}" in too_high.message
    assert re.search(r"observed: value \d+", too_high.message), too_high.message
    no_series = verdicts["no-series"]
    assert no_series.status == "failed"
    assert f"query:    {never}" in no_series.message
    assert "observed: no series (the query returned nothing)" in no_series.message


def test_hold_needs_the_condition_to_last(lab: Lab) -> None:
    up = 'up{job="target"}'
    faults = quiet(lab)
    expectations = [
        MetricExpectation(
            id="held", query=up, op="==", threshold=1, hold=2, window=window("quiet", 10)
        ),
        MetricExpectation(
            id="too-short", query=up, op="==", threshold=1, hold=5, window=window("quiet", 3)
        ),
    ]

    verdicts = settle(lab, expectations, faults, started=faults["quiet"].started)

    held = verdicts["held"]
    assert held.status == "passed", held.message
    assert held.time_to_detect_s is not None
    assert held.time_to_detect_s >= 2
    too_short = verdicts["too-short"]
    assert too_short.status == "failed"
    assert f"metric {up} == 1 for 5s did not surface" in too_short.message
    assert re.search(r"held:     since \S+, [0-3]\.\ds of the 5s required", too_short.message)


# -- absent ------------------------------------------------------------------------------


def test_absent_passes_when_nothing_happens(lab: Lab) -> None:
    faults = quiet(lab)
    send(lab, 2)  # healthy traffic of the run: no exception, no issue
    expectations: list[Expectation] = [
        MetricExpectation(
            id="no-exceptions",
            query='sum(app_exceptions_total{job="target",type="QuietError"})',
            threshold=0,
            absent=True,
            window=window("quiet", 3),
        ),
        SentryExpectation(id="no-issue", absent=True, window=window("quiet", 3)),
    ]

    verdicts = settle(lab, expectations, faults, started=faults["quiet"].started)

    for verdict in verdicts.values():
        assert verdict.status == "passed", verdict.message
        assert verdict.time_to_detect_s is None


def test_absent_fails_as_soon_as_it_happens(lab: Lab) -> None:
    query = 'sum(app_exceptions_total{job="target",type="AbsentStormError"})'
    exp = MetricExpectation(
        id="should-be-quiet", query=query, threshold=0, absent=True, window=window("storm", 20)
    )

    with storm(lab, "AbsentStormError") as span:
        verdicts = settle(lab, [exp], lab.faults, started=span.started)

    verdict = verdicts["should-be-quiet"]
    assert verdict.status == "failed"
    assert verdict.time_to_detect_s is not None
    assert verdict.time_to_detect_s < 20
    assert f"no metric {query} > 0 was observed but should be absent" in verdict.message
    assert f"query:    {query}" in verdict.message


# -- alert -------------------------------------------------------------------------------


def test_alert_fires_in_prometheus_and_at_the_webhook(lab: Lab) -> None:
    fires = AlertExpectation(id="storm-alert", alert="ExceptionStorm", window=window("storm", 45))

    with storm(lab, "AlertStormError") as span:
        verdicts = settle(lab, [fires], lab.faults, started=span.started)
        verdict = verdicts["storm-alert"]
        assert verdict.status == "passed", verdict.message
        assert verdict.time_to_detect_s is not None
        assert verdict.time_to_detect_s < 45
        assert "Prometheus: ExceptionStorm firing" in verdict.observed
        assert re.search(r"webhook: [1-9]\d* firing notification\(s\)", verdict.observed)

        # While it fires, an alert that does not is reported with the one that does.
        faults = quiet(lab)
        other = AlertExpectation(
            id="waiters", alert="DatabasePoolWaiters", window=window("quiet", 3)
        )
        missing = settle(lab, [other], faults, started=faults["quiet"].started)["waiters"]

    assert missing.status == "failed"
    assert "other firing alerts: ExceptionStorm" in missing.message


def test_alert_that_never_fires_fails_with_its_states(lab: Lab) -> None:
    faults = quiet(lab)
    exp = AlertExpectation(id="waiters", alert="DatabasePoolWaiters", window=window("quiet", 3))

    verdict = settle(lab, [exp], faults, started=faults["quiet"].started)["waiters"]

    assert verdict.status == "failed"
    assert verdict.time_to_detect_s is None
    assert "alert DatabasePoolWaiters firing via both did not surface" in verdict.message
    assert "query:    alert DatabasePoolWaiters firing" in verdict.message
    assert "Prometheus: DatabasePoolWaiters inactive" in verdict.message
    assert "webhook: 0 firing notification(s) of DatabasePoolWaiters" in verdict.message


# -- trace -------------------------------------------------------------------------------


def run_spans(lab: Lab, *more: AttributeCondition) -> list[AttributeCondition]:
    return [AttributeCondition(key="chaoslab.run_id", value=lab.run_id), *more]


def test_trace_passes_on_error_spans_of_the_run(lab: Lab) -> None:
    exp = TraceExpectation(
        id="error-spans",
        service="target",
        error=True,
        attributes=run_spans(lab, AttributeCondition(key="http.status_code", value=500)),
        at_least=3,
        window=window("storm", 20),
    )

    with storm(lab, "TraceStormError") as span:
        verdicts = settle(lab, [exp], lab.faults, started=span.started)

    verdict = verdicts["error-spans"]
    assert verdict.status == "passed", verdict.message
    assert verdict.time_to_detect_s is not None
    assert verdict.time_to_detect_s < 20
    assert re.match(r"[3-9]|\d{2,} matching span", verdict.observed), verdict.observed


def test_trace_fails_showing_the_span_that_missed_one_condition(lab: Lab) -> None:
    faults = quiet(lab)
    send(lab, 3)  # 200 OK spans of the run
    exp = TraceExpectation(
        id="unavailable-spans",
        service="target",
        attributes=run_spans(lab, AttributeCondition(key="http.status_code", value=503)),
        window=window("quiet", 4),
    )

    verdict = settle(lab, [exp], faults, started=faults["quiet"].started)["unavailable-spans"]

    assert verdict.status == "failed"
    assert "query:    traces service=target operation=None since" in verdict.message
    assert "0 matching span(s)" in verdict.message
    # The closest span: one of the run's 200 OK requests, named with the condition it missed.
    assert re.search(
        r"closest: target: GET /api/documents \([\d.]+ ms\) missed( only)?: "
        r"attribute http.status_code = 503 \(has 200\)",
        verdict.message,
    ), verdict.message


# -- sentry ------------------------------------------------------------------------------


def test_sentry_passes_on_one_issue_of_the_run(lab: Lab) -> None:
    exp = SentryExpectation(
        id="one-issue",
        exception_type="SentryStormError",
        fingerprint=["chaos-exception", "SentryStormError"],
        min_events=3,
        max_issues=1,
        window=window("storm", 25),
    )

    with storm(lab, "SentryStormError") as span:
        verdicts = settle(lab, [exp], lab.faults, started=span.started)

    verdict = verdicts["one-issue"]
    assert verdict.status == "passed", verdict.message
    assert verdict.time_to_detect_s is not None
    assert verdict.time_to_detect_s < 25
    assert verdict.query == f"sentry issues tagged run_id:{lab.run_id}"
    assert verdict.observed.startswith("1 matching of 1 issue(s): ")


def test_sentry_fails_naming_the_issues_that_did_arrive(lab: Lab) -> None:
    exp = SentryExpectation(
        id="expected-issue", exception_type="ExpectedButMissingError", window=window("storm", 6)
    )

    with storm(lab, "ArrivedInsteadError", requests_per_s=4) as span:
        verdicts = settle(lab, [exp], lab.faults, started=span.started)

    verdict = verdicts["expected-issue"]
    assert verdict.status == "failed"
    assert "Sentry issue ExpectedButMissingError did not surface" in verdict.message
    assert f"query:    sentry issues tagged run_id:{lab.run_id}" in verdict.message
    assert re.search(
        r"observed: 0 matching of 1 issue\(s\): .*ArrivedInsteadError", verdict.message
    )


# -- log ---------------------------------------------------------------------------------


def test_log_passes_on_error_lines_with_request_ids(lab: Lab) -> None:
    exp = LogExpectation(
        id="error-lines",
        event="request.error",
        fields={"error": "LogStormError", "run_id": lab.run_id},
        require_fields=["request_id"],
        min_count=3,
        window=window("storm", 15),
    )

    with storm(lab, "LogStormError") as span:
        verdicts = settle(lab, [exp], lab.faults, started=span.started)

    verdict = verdicts["error-lines"]
    assert verdict.status == "passed", verdict.message
    assert verdict.time_to_detect_s is not None
    assert verdict.time_to_detect_s < 15
    assert re.match(r"([3-9]|\d{2,}) matching line\(s\)", verdict.observed), verdict.observed


def test_log_fails_counting_the_lines_of_the_same_event(lab: Lab) -> None:
    exp = LogExpectation(
        id="never-logged",
        event="request.error",
        fields={"error": "NeverLoggedError"},
        window=window("storm", 3),
    )

    with storm(lab, "LoggedInsteadError") as span:
        verdicts = settle(lab, [exp], lab.faults, started=span.started)

    verdict = verdicts["never-logged"]
    assert verdict.status == "failed"
    assert "query:    log event=request.error fields={'error': 'NeverLoggedError'}" in (
        verdict.message
    )
    assert re.search(
        r"observed: 0 matching line\(s\); [1-9]\d* line\(s\) with event request.error",
        verdict.message,
    )


# -- health ------------------------------------------------------------------------------


@contextmanager
def downstream_cut(lab: Lab) -> Iterator[None]:
    """Disable the Toxiproxy proxy between the target and its classifier."""
    proxy = f"{lab.endpoints.toxiproxy_url}/proxies/downstream"
    httpx.post(proxy, json={"enabled": False}).raise_for_status()
    try:
        yield
    finally:
        httpx.post(proxy, json={"enabled": True}).raise_for_status()


def test_health_passes_when_readiness_names_the_failing_check(lab: Lab) -> None:
    exp = HealthExpectation(
        id="not-ready",
        probe="readiness",
        status=503,
        failing="classifier",
        window=window("cut", 15),
    )
    with downstream_cut(lab):
        faults = {"cut": FaultSpan(utcnow())}
        verdicts = settle(lab, [exp], faults, started=faults["cut"].started)

    verdict = verdicts["not-ready"]
    assert verdict.status == "passed", verdict.message
    assert verdict.time_to_detect_s is not None
    assert verdict.time_to_detect_s < 15
    assert verdict.observed == "/readiness answered 503 failing classifier"


def test_health_fails_showing_what_the_probe_answered(lab: Lab) -> None:
    faults = quiet(lab)
    exp = HealthExpectation(
        id="not-ready", probe="readiness", status=503, window=window("quiet", 2)
    )

    verdict = settle(lab, [exp], faults, started=faults["quiet"].started)["not-ready"]

    assert verdict.status == "failed"
    assert "/readiness answers 503 did not surface" in verdict.message
    assert "query:    GET /readiness" in verdict.message
    assert "observed: /readiness answered 200" in verdict.message


# -- errors are not failures -------------------------------------------------------------


def test_an_unreachable_backend_is_an_error_not_a_failure(lab: Lab) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    faults = quiet(lab)
    backends = lab.backends()
    backends.prometheus = PrometheusClient(nowhere, timeout=1.0)
    backends.health = HealthClient(nowhere, timeout=1.0)
    backends.logs = LogReader(Path(lab.state_dir) / "no-such.jsonl")
    expectations: list[Expectation] = [
        MetricExpectation(id="metric", query="up", threshold=0, window=window("quiet", 2)),
        HealthExpectation(id="health", status=200, window=window("quiet", 2)),
        LogExpectation(id="log", event="http.request", window=window("quiet", 2)),
    ]
    engine = Engine(expectations, backends, faults["quiet"].started)
    stop = time.monotonic() + 20
    while not engine.done and time.monotonic() < stop:
        engine.poll(utcnow(), faults)
        time.sleep(TICK_S)

    verdicts = {v.id: v for v in engine.verdicts}
    for kind in ("metric", "health"):
        assert verdicts[kind].status == "error", verdicts[kind]
        assert not verdicts[kind].passed
        assert f"at {nowhere}" in verdicts[kind].message
        assert "is unavailable" in verdicts[kind].message
    assert verdicts["log"].status == "error"
    assert "no-such.jsonl" in verdicts["log"].message


def test_a_rejected_query_is_an_error_at_once(lab: Lab) -> None:
    faults = quiet(lab)
    exp = MetricExpectation(id="bad", query="sum(rate(", threshold=0, window=window("quiet", 30))

    verdicts = settle(lab, [exp], faults, started=faults["quiet"].started, limit_s=5)

    assert verdicts["bad"].status == "error"
    assert "rejected the query 'sum(rate('" in verdicts["bad"].message
