"""The timeline's data, computed from what a run recorded (no plotting here).

Every time is in seconds from the run's start (``journal.started_at``), the
one axis every panel of the timeline shares.

* :func:`load_per_second` bins the per-request log by the second a request
  **finished** in (as the journal's load windows attribute requests), with
  the exact nearest-rank percentiles of :mod:`scenarios.loadmodel`;
* :func:`alert_states` turns the ``ALERTS`` range series into pending and
  firing intervals per alert (resolved = the end of the last firing one);
* :func:`alert_notices` places the webhook notifications on the same axis;
* :func:`fault_bands` and :func:`detections` place the faults and each
  expectation's detection.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from assertions.alertmanager import Notification
from assertions.engine import Verdict
from assertions.promql import MatrixResult
from scenarios.journal import Journal
from scenarios.loadmodel import RequestRecord, percentile


def offset(at: datetime, origin: datetime) -> float:
    """Seconds from ``origin`` to ``at``."""
    return (at - origin).total_seconds()


@dataclass(frozen=True)
class SecondBin:
    """The requests that finished in ``[t, t + 1)`` seconds from the run start."""

    t: float
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def load_per_second(records: Sequence[RequestRecord], origin: datetime) -> list[SecondBin]:
    """One bin per second from the first to the last finished request (empty seconds kept)."""
    if not records:
        return []
    start = origin.timestamp()
    buckets: dict[int, list[RequestRecord]] = defaultdict(list)
    for record in records:
        buckets[math.floor(record.finished - start)].append(record)
    bins: list[SecondBin] = []
    for second in range(min(buckets), max(buckets) + 1):
        kept = buckets.get(second, [])
        times = sorted(r.response_time_ms for r in kept)
        bins.append(
            SecondBin(
                t=float(second),
                requests=len(kept),
                failures=sum(1 for r in kept if not r.ok),
                p50_ms=percentile(times, 50),
                p95_ms=percentile(times, 95),
                p99_ms=percentile(times, 99),
            )
        )
    return bins


@dataclass(frozen=True)
class Band:
    """A fault on the time axis."""

    label: str
    start: float
    end: float


def fault_bands(journal: Journal) -> list[Band]:
    """Each injected fault from its start to its end (the run's end while it never ended)."""
    origin = journal.started_at
    run_end = offset(journal.finished_at, origin) if journal.finished_at else None
    bands: list[Band] = []
    for fault in journal.faults:
        if fault.started_at is None:
            continue
        start = offset(fault.started_at, origin)
        end = offset(fault.ended_at, origin) if fault.ended_at else run_end or start
        bands.append(Band(label=f"{fault.kind} {fault.target} ({fault.id})", start=start, end=end))
    return bands


@dataclass(frozen=True)
class StateSpan:
    """An alert in one state (``pending`` or ``firing``) from ``start`` to ``end``."""

    alert: str
    state: str
    start: float
    end: float


def alert_states(alerts: MatrixResult | None, origin: datetime, step_s: float) -> list[StateSpan]:
    """Contiguous pending/firing intervals of every alert in the ``ALERTS`` range series.

    Samples ``step_s`` apart belong to one interval; each interval lasts until
    one step after its last sample (the alert was seen in that state until then).
    """
    if alerts is None:
        return []
    spans: list[StateSpan] = []
    for series in alerts.series:
        name = series.labels.get("alertname", "?")
        state = series.labels.get("alertstate", "firing")
        times = sorted(offset(s.at, origin) for s in series.samples if s.value > 0)
        run_start: float | None = None
        last = 0.0
        for t in times:
            if run_start is None:
                run_start = t
            elif t - last > 1.5 * step_s:
                spans.append(StateSpan(name, state, run_start, last + step_s))
                run_start = t
            last = t
        if run_start is not None:
            spans.append(StateSpan(name, state, run_start, last + step_s))
    return _merge_states(spans)


def _merge_states(spans: list[StateSpan]) -> list[StateSpan]:
    """Spans of one alert and state that touch or overlap become one (labelsets differ)."""
    merged: list[StateSpan] = []
    for span in sorted(spans, key=lambda s: (s.alert, s.state, s.start)):
        last = merged[-1] if merged else None
        if last and (last.alert, last.state) == (span.alert, span.state) and span.start <= last.end:
            merged.pop()
            span = StateSpan(span.alert, span.state, last.start, max(last.end, span.end))
        merged.append(span)
    return merged


@dataclass(frozen=True)
class Notice:
    """A webhook notification of one alert (``firing`` or ``resolved``)."""

    alert: str
    status: str
    t: float


def alert_notices(notifications: Sequence[Notification], origin: datetime) -> list[Notice]:
    return sorted(
        (
            Notice(alert.name, alert.status, offset(n.received_at, origin))
            for n in notifications
            for alert in n.payload.alerts
        ),
        key=lambda notice: (notice.alert, notice.t),
    )


@dataclass(frozen=True)
class Detection:
    """An expectation on the time axis: where it was detected (None when it was not)."""

    id: str
    kind: str
    status: str
    t: float | None
    time_to_detect_s: float | None


def detections(verdicts: Sequence[Verdict], origin: datetime) -> list[Detection]:
    return [
        Detection(
            id=v.id,
            kind=v.kind,
            status=v.status,
            t=offset(v.detected_at, origin) if v.detected_at else None,
            time_to_detect_s=v.time_to_detect_s,
        )
        for v in verdicts
    ]


__all__ = [
    "Band",
    "Detection",
    "Notice",
    "SecondBin",
    "StateSpan",
    "alert_notices",
    "alert_states",
    "detections",
    "fault_bands",
    "load_per_second",
    "offset",
]
