"""The expectation engine: poll each expectation until its deadline, time the detection.

The runner calls :meth:`Engine.poll` every tick with the current time and the
fault timeline; every expectation is looked at only inside its window, and
settles as passed (with ``detected_at`` and ``time_to_detect_s``), failed
(with the query, what was expected and the closest observation), or error
(a backend could not be asked). :meth:`Engine.finish` settles what is left.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from assertions.exceptions import (
    AssertionsError,
    BackendNotConfigured,
    ExpectationFailed,
    QueryError,
)
from assertions.expectations import (
    AlertExpectation,
    Expectation,
    HealthExpectation,
    LogExpectation,
    MetricExpectation,
    SentryExpectation,
    TraceExpectation,
)
from assertions.probes import (
    Backends,
    Observation,
    observe_alert,
    observe_health,
    observe_log,
    observe_metric,
    observe_sentry,
    observe_trace,
)

DEFAULT_AFTER_END_S = 30.0
#: In a metric query, the time since the run started as a PromQL duration (``73s``), so
#: ``increase(errors_total[$__run_range])`` counts this run only, even on a long-lived stack
#: whose counters carry earlier runs.
RUN_RANGE = "$__run_range"
Status = Literal["pending", "passed", "failed", "error"]


@dataclass(frozen=True)
class FaultSpan:
    """When a fault was active (``ended`` None while it still is)."""

    started: datetime
    ended: datetime | None = None


class Verdict(BaseModel):
    """How one expectation ended (the journal's ``expectations[]`` entry)."""

    id: str
    kind: str
    description: str
    status: Status = "pending"
    passed: bool = False
    #: The expectation asserts that the signal does *not* show (it detects nothing).
    absent: bool | None = None
    observed: str = ""
    expected: str = ""
    query: str = ""
    message: str = ""
    detected_at: datetime | None = None
    time_to_detect_s: float | None = None


def describe(exp: Expectation) -> str:
    """What the expectation asks, in one line (used when no description is given)."""
    not_ = "no " if exp.absent else ""
    match exp:
        case MetricExpectation():
            hold = f" for {exp.hold:g}s" if exp.hold else ""
            return f"{not_}metric {exp.query} {exp.op} {exp.threshold:g}{hold}"
        case AlertExpectation():
            return f"{not_}alert {exp.alert} {exp.state} via {exp.via}"
        case TraceExpectation():
            what = exp.operation or "any span"
            return f"{not_}{exp.at_least}+ span(s) {exp.service}/{what}"
        case SentryExpectation():
            what = exp.exception_type or "any exception"
            return f"{not_}Sentry issue {what}" + (
                f" fingerprint {exp.fingerprint}" if exp.fingerprint else ""
            )
        case LogExpectation():
            return f"{not_}{exp.min_count}+ log line(s) {exp.event}"
        case HealthExpectation():
            return f"{not_}/{exp.probe} answers {exp.status}"
    return exp.id  # pragma: no cover - the match above is exhaustive


class _Tracker:
    def __init__(self, exp: Expectation) -> None:
        self.exp = exp
        self.verdict = Verdict(
            id=exp.id,
            kind=exp.kind,
            description=exp.description or describe(exp),
            expected=describe(exp),
            absent=exp.absent,
        )
        self.true_since: datetime | None = None
        self.best: Observation | None = None
        self.best_at: datetime | None = None
        self.last: Observation | None = None
        self.last_at: datetime | None = None
        self.last_error: str | None = None

    @property
    def settled(self) -> bool:
        return self.verdict.status != "pending"


class Engine:
    """Evaluate expectations against live backends while a run goes on."""

    def __init__(
        self,
        expectations: Sequence[Expectation],
        backends: Backends,
        run_started: datetime,
    ) -> None:
        self.backends = backends
        self.run_started = run_started
        self._trackers = [_Tracker(exp) for exp in expectations]

    @property
    def verdicts(self) -> list[Verdict]:
        return [t.verdict for t in self._trackers]

    @property
    def done(self) -> bool:
        return all(t.settled for t in self._trackers)

    def _bounds(
        self, exp: Expectation, faults: Mapping[str, FaultSpan], run_ended: datetime | None
    ) -> tuple[datetime | None, datetime | None, datetime]:
        """(window start, deadline, the moment time-to-detect counts from)."""
        window = exp.window
        if window.fault is None:
            start = self.run_started
            deadline = start + timedelta(seconds=window.within) if window.within else run_ended
            return start, deadline, start
        span = faults.get(window.fault)
        if span is None:
            return None, None, self.run_started
        if window.after_end:
            if span.ended is None:
                return None, None, span.started
            within = window.within if window.within is not None else DEFAULT_AFTER_END_S
            return span.ended, span.ended + timedelta(seconds=within), span.ended
        if window.within is not None:
            return span.started, span.started + timedelta(seconds=window.within), span.started
        return span.started, span.ended, span.started

    def _observe(self, exp: Expectation, since: datetime, now: datetime) -> Observation:
        b = self.backends
        match exp:
            case MetricExpectation():
                return observe_metric(with_run_range(exp, self.run_started, now), b)
            case AlertExpectation():
                return observe_alert(exp, b, since)
            case TraceExpectation():
                return observe_trace(exp, b, since)
            case SentryExpectation():
                return observe_sentry(exp, b, since)
            case LogExpectation():
                return observe_log(exp, b, since)
            case HealthExpectation():
                return observe_health(exp, b)
        raise AssertionError(exp)  # pragma: no cover - exhaustive

    def poll(
        self,
        now: datetime,
        faults: Mapping[str, FaultSpan],
        run_ended: datetime | None = None,
    ) -> list[Verdict]:
        """Look once at every open expectation whose window has begun; return newly settled."""
        settled: list[Verdict] = []
        for tracker in self._trackers:
            if tracker.settled:
                continue
            start, deadline, origin = self._bounds(tracker.exp, faults, run_ended)
            if start is None or now < start:
                continue
            self._look(tracker, now, start, origin)
            if not tracker.settled and deadline is not None and now >= deadline:
                self._expire(tracker, origin)
            if tracker.settled:
                settled.append(tracker.verdict)
        return settled

    def finish(self, now: datetime, faults: Mapping[str, FaultSpan]) -> list[Verdict]:
        """Settle every open expectation (the run is over): one last look, then expire."""
        for tracker in self._trackers:
            if tracker.settled:
                continue
            start, _deadline, origin = self._bounds(tracker.exp, faults, now)
            if start is not None and now >= start:
                self._look(tracker, now, start, origin)
            if not tracker.settled:
                if start is None:
                    tracker.last_error = tracker.last_error or "its window never opened"
                self._expire(tracker, origin)
        return self.verdicts

    def _look(self, tracker: _Tracker, now: datetime, since: datetime, origin: datetime) -> None:
        exp = tracker.exp
        try:
            seen = self._observe(exp, since, now)
        except (QueryError, BackendNotConfigured) as exc:  # asking again cannot help
            self._settle(tracker, "error", message=str(exc))
            return
        except AssertionsError as exc:
            tracker.last_error = str(exc)
            return
        tracker.last_error = None
        tracker.last, tracker.last_at = seen, now
        if _closer(seen, tracker.best):
            tracker.best, tracker.best_at = seen, now
        hold = exp.hold if isinstance(exp, MetricExpectation) else 0.0
        if not seen.satisfied:
            tracker.true_since = None
            return
        tracker.true_since = tracker.true_since or now
        if (now - tracker.true_since).total_seconds() < hold:
            return
        detected = tracker.true_since + timedelta(seconds=hold)
        ttd = round((detected - origin).total_seconds(), 3)
        if exp.absent:
            message = failure_message(exp, seen, tracker, "was observed but should be absent")
            self._settle(tracker, "failed", seen, message, detected, ttd)
        else:
            self._settle(tracker, "passed", seen, "", detected, ttd)

    def _expire(self, tracker: _Tracker, origin: datetime) -> None:
        exp = tracker.exp
        if tracker.last is None and tracker.last_error is not None:
            self._settle(tracker, "error", message=tracker.last_error)
        elif exp.absent:
            self._settle(tracker, "passed", tracker.last, "")
        else:
            message = failure_message(exp, tracker.last, tracker, "did not surface in its window")
            self._settle(tracker, "failed", tracker.last, message)

    @staticmethod
    def _settle(
        tracker: _Tracker,
        status: Status,
        seen: Observation | None = None,
        message: str = "",
        detected: datetime | None = None,
        ttd: float | None = None,
    ) -> None:
        verdict = tracker.verdict
        verdict.status = status
        verdict.passed = status == "passed"
        verdict.message = message
        if seen is not None:
            verdict.observed = seen.observed
            verdict.query = seen.query
        verdict.detected_at = detected
        verdict.time_to_detect_s = ttd if status == "passed" and not tracker.exp.absent else None
        if status == "failed" and tracker.exp.absent:
            verdict.time_to_detect_s = ttd


def with_run_range(
    exp: MetricExpectation, run_started: datetime, now: datetime
) -> MetricExpectation:
    """``exp`` with :data:`RUN_RANGE` replaced by the whole seconds since ``run_started``."""
    if RUN_RANGE not in exp.query:
        return exp
    seconds = max(1, math.ceil((now - run_started).total_seconds()))
    return exp.model_copy(update={"query": exp.query.replace(RUN_RANGE, f"{seconds}s")})


def _closer(seen: Observation, best: Observation | None) -> bool:
    """Is ``seen`` closer to satisfying than ``best`` (any score beats none)?"""
    if best is None:
        return True
    if seen.score is None:
        return False
    return best.score is None or seen.score > best.score


def failure_message(
    exp: Expectation, seen: Observation | None, tracker: _Tracker, what: str
) -> str:
    """The query sent, what was expected, and the closest observation."""
    lines = [f"{exp.id}: {describe(exp)} {what}"]
    if seen is not None:
        lines.append(f"  query:    {seen.query}")
        lines.append(f"  observed: {seen.observed}")
    best = tracker.best
    if best is not None and tracker.best_at is not None and _closer(best, seen):
        lines.append(f"  closest:  {best.observed} at {tracker.best_at:%H:%M:%S}")
    hold = exp.hold if isinstance(exp, MetricExpectation) else 0.0
    if hold and not exp.absent and tracker.true_since is not None and tracker.last_at is not None:
        held = (tracker.last_at - tracker.true_since).total_seconds()
        since = f"{tracker.true_since:%H:%M:%S}"
        lines.append(f"  held:     since {since}, {held:.1f}s of the {hold:g}s required")
    if tracker.last_error:
        lines.append(f"  last backend error: {tracker.last_error}")
    return "\n".join(lines)


def raise_for(verdict: Verdict) -> None:
    """Turn a failed verdict into :class:`ExpectationFailed` (for pytest)."""
    if verdict.status == "failed":
        raise ExpectationFailed(verdict.message)


def utcnow() -> datetime:
    return datetime.now(UTC)
