"""Engine windows, deadlines, hold and absent on recorded Prometheus answers, in virtual time.

The engine takes the current time as an argument, so these tests step a
clock instead of sleeping; the backend answers are responses recorded from a
real Prometheus (``tests/unit/recorded``), served in a scripted order.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from assertions import PrometheusClient
from assertions.engine import Engine, FaultSpan, Verdict
from assertions.expectations import MetricExpectation, Window
from assertions.probes import Backends
from tests.unit.recorded.replay import dig, dig_list, recorded

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
UP = "up"  # recorded value 1
EMPTY = "prometheus_query_empty"
UP_FIXTURE = "prometheus_query_vector"
MULTI = "prometheus_query_vector_multi"  # several series of rates


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


class Script:
    """Answers the n-th query with the n-th recorded fixture; the last one repeats."""

    def __init__(self, *steps: str) -> None:
        self.steps = [recorded(name) for name in steps]
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        return step.response()

    def engine(self, *expectations: MetricExpectation, run_started: datetime = T0) -> Engine:
        prometheus = PrometheusClient(
            "http://prometheus.test", transport=httpx.MockTransport(self.handle)
        )
        return Engine(list(expectations), Backends(prometheus=prometheus), run_started)


def metric(
    window: Window, *, threshold: float = 0, hold: float = 0, absent: bool = False
) -> MetricExpectation:
    return MetricExpectation(
        id="m", query=UP, threshold=threshold, hold=hold, absent=absent, window=window
    )


def only(engine: Engine) -> Verdict:
    [verdict] = engine.verdicts
    return verdict


def test_nothing_is_asked_before_the_fault_starts() -> None:
    script = Script(UP_FIXTURE)
    engine = script.engine(metric(Window(fault="f", within=10)))

    assert engine.poll(at(5), {}) == []

    assert script.requests == []
    assert only(engine).status == "pending"


def test_time_to_detect_counts_from_the_fault_start() -> None:
    script = Script(EMPTY, UP_FIXTURE)
    engine = script.engine(metric(Window(fault="f", within=10)))
    faults = {"f": FaultSpan(at(2))}

    assert engine.poll(at(3), faults) == []
    [settled] = engine.poll(at(5.5), faults)

    assert settled.status == "passed"
    assert settled.detected_at == at(5.5)
    assert settled.time_to_detect_s == 3.5
    assert settled.observed == "value 1"
    assert engine.done


def test_a_miss_fails_only_at_the_deadline_with_the_query() -> None:
    script = Script(EMPTY)
    engine = script.engine(metric(Window(fault="f", within=10)))
    faults = {"f": FaultSpan(at(0))}

    assert engine.poll(at(9.9), faults) == []
    [settled] = engine.poll(at(10), faults)

    assert settled.status == "failed"
    assert settled.time_to_detect_s is None
    assert settled.message.splitlines() == [
        "m: metric up > 0 did not surface in its window",
        "  query:    up",
        "  observed: no series (the query returned nothing)",
    ]


def test_after_end_opens_when_the_fault_ends_and_times_from_there() -> None:
    script = Script(UP_FIXTURE)
    engine = script.engine(metric(Window(fault="f", after_end=True, within=5)))

    assert engine.poll(at(20), {"f": FaultSpan(at(0))}) == []
    assert script.requests == []
    [settled] = engine.poll(at(31), {"f": FaultSpan(at(0), ended=at(30))})

    assert settled.status == "passed"
    assert settled.time_to_detect_s == 1.0


def test_hold_detects_at_the_end_of_the_hold_and_restarts_on_a_dip() -> None:
    script = Script(UP_FIXTURE, EMPTY, UP_FIXTURE)
    engine = script.engine(metric(Window(fault="f", within=30), hold=2))
    faults = {"f": FaultSpan(at(0))}

    for second in (1, 2, 3, 4):  # true at 1, dips at 2, true again from 3
        assert engine.poll(at(second), faults) == []
    [settled] = engine.poll(at(5), faults)

    assert settled.status == "passed"
    assert settled.detected_at == at(5)
    assert settled.time_to_detect_s == 5.0


def test_a_hold_cut_short_by_the_deadline_says_how_long_it_held() -> None:
    script = Script(UP_FIXTURE)
    engine = script.engine(metric(Window(fault="f", within=3), hold=5))
    faults = {"f": FaultSpan(at(0))}

    for second in (1, 2):
        engine.poll(at(second), faults)
    [settled] = engine.poll(at(3), faults)

    assert settled.status == "failed"
    assert "metric up > 0 for 5s did not surface" in settled.message
    assert "  held:     since 12:00:01, 2.0s of the 5s required" in settled.message


def test_absent_passes_at_the_deadline_and_fails_on_first_sight() -> None:
    quiet = Script(EMPTY).engine(metric(Window(fault="f", within=4), absent=True))
    loud = Script(EMPTY, UP_FIXTURE).engine(metric(Window(fault="f", within=4), absent=True))
    faults = {"f": FaultSpan(at(0))}

    assert quiet.poll(at(2), faults) == []
    [passed] = quiet.poll(at(4), faults)
    assert loud.poll(at(1), faults) == []
    [failed] = loud.poll(at(2), faults)

    assert passed.status == "passed"
    assert passed.time_to_detect_s is None
    assert failed.status == "failed"
    assert failed.time_to_detect_s == 2.0
    assert failed.message.startswith("m: no metric up > 0 was observed but should be absent")


def test_the_whole_run_window_ends_with_the_run() -> None:
    script = Script(EMPTY)
    engine = script.engine(metric(Window()), run_started=at(0))

    assert engine.poll(at(100), {}) == []  # the run goes on: no deadline yet
    [settled] = engine.poll(at(101), {}, run_ended=at(100))

    assert settled.status == "failed"


def test_the_closest_observation_is_reported_when_the_last_was_further() -> None:
    script = Script(MULTI, UP_FIXTURE)
    exp = MetricExpectation(id="m", query=UP, threshold=5, window=Window(fault="f", within=2))
    engine = script.engine(exp)
    faults = {"f": FaultSpan(at(0))}

    engine.poll(at(1), faults)
    [settled] = engine.poll(at(2), faults)

    highest = max(
        float(str(dig(series, "value", 1)))
        for series in dig_list(recorded(MULTI).body, "data", "result")
    )
    assert "  observed: value 1\n" in settled.message + "\n"
    assert f"  closest:  value {highest:g} at 12:00:01" in settled.message


def test_finish_errors_an_expectation_whose_fault_never_started() -> None:
    engine = Script(UP_FIXTURE).engine(metric(Window(fault="never", within=5)))

    [verdict] = engine.finish(at(60), {})

    assert verdict.status == "error"
    assert verdict.message == "its window never opened"


def test_run_range_counts_this_run_only() -> None:
    from assertions.engine import with_run_range
    from assertions.expectations import MetricExpectation

    exp = MetricExpectation(
        id="no-5xx", query="sum(increase(errors_total[$__run_range]))", threshold=0, absent=True
    )
    started = datetime(2026, 1, 1, tzinfo=UTC)
    later = with_run_range(exp, started, started + timedelta(seconds=72.2))
    assert later.query == "sum(increase(errors_total[73s]))"
    at_once = with_run_range(exp, started, started)
    assert at_once.query == "sum(increase(errors_total[1s]))"
    plain = MetricExpectation(id="up", query="up", threshold=0)
    assert with_run_range(plain, started, started + timedelta(seconds=5)) is plain
