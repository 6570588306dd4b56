"""Load settings and load figures: what to run, and what it measured.

:class:`LoadSpec` is the ``load`` part of a scenario. It becomes the
``CHAOSLAB_*`` environment of the Locust process (the contract documented in
``loadtests/config.py``; this module never imports ``loadtests``).

:class:`LoadFigures` are computed from the per-request log: requests are
attributed to a window by the time they **finished** (as Locust's own stats
do), and percentiles are exact nearest-rank values over every request in the
window, failures included (Locust includes them too). An empty window gives
zeros, never an error.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

SAFE_RUN_ID = r"^[A-Za-z0-9._:-]{1,128}$"
EPSILON_S = 1e-6

Interval = tuple[float, float]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SteadyShape(_Frozen):
    """``users`` for the whole run."""

    kind: Literal["steady"] = "steady"


class RampShape(_Frozen):
    """Linear from ``from_users`` to ``users`` over ``ramp_s`` (default: all of it), then hold."""

    kind: Literal["ramp"] = "ramp"
    from_users: int = Field(default=0, ge=0, le=10_000)
    ramp_s: float | None = Field(default=None, gt=0)


class SpikeShape(_Frozen):
    """``users``, then ``spike_users`` from ``at_s`` for ``for_s`` seconds, then ``users`` again."""

    kind: Literal["spike"] = "spike"
    spike_users: int = Field(ge=0, le=10_000)
    at_s: float = Field(ge=0)
    for_s: float = Field(gt=0)
    spike_spawn_rate: float | None = Field(default=None, gt=0)


class ReplayShape(_Frozen):
    """A recorded curve (CSV ``t_seconds,users`` or ``t_seconds,rps``), optionally sped up.

    ``time_scale`` 10 plays the curve ten times faster. An ``rps`` curve is
    turned into users as ``ceil(rps * seconds_per_request)`` (Little's law;
    default: the mean think time plus 20 ms).
    """

    kind: Literal["replay"] = "replay"
    path: Path
    time_scale: float = Field(default=1.0, gt=0)
    interpolate: bool = True
    seconds_per_request: float | None = Field(default=None, gt=0)


ShapeSpec = Annotated[
    SteadyShape | RampShape | SpikeShape | ReplayShape, Field(discriminator="kind")
]


class TaskWeights(_Frozen):
    """Relative frequency of each action of a document user."""

    create: int = Field(default=3, ge=0)
    get: int = Field(default=5, ge=0)
    list: int = Field(default=2, ge=0)
    reprocess: int = Field(default=1, ge=0)

    @model_validator(mode="after")
    def _some_work(self) -> Self:
        if self.create + self.get + self.list + self.reprocess == 0:
            raise ValueError("at least one task weight must be positive")
        return self


class LoadSpec(_Frozen):
    """One Locust run: who, how many, which curve, how long."""

    run_id: str = Field(pattern=SAFE_RUN_ID)
    duration_s: float = Field(gt=0, le=6 * 3600)
    user_classes: tuple[str, ...] = Field(
        default=("DocumentUser",), description="classes of the user file to run (empty: all)"
    )
    user_file: str | None = Field(
        default=None, description="the Locust file with the users; None: loadtests/users.py"
    )
    request_mix: str | None = Field(
        default=None, description="a profile's request mix as JSON (runs loadtests/mix.py)"
    )
    users: int = Field(default=10, ge=0, le=10_000)
    spawn_rate: float = Field(default=10.0, gt=0)
    shape: ShapeSpec = SteadyShape()
    seed: int = 0
    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Locust workers the lab starts beside a master (0: one standalone process)",
    )
    expect_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="extra workers started elsewhere that the master also waits for",
    )
    wait_min_s: float = Field(default=0.05, ge=0)
    wait_max_s: float = Field(default=0.2, ge=0)
    pacing_s: float = Field(default=0.0, ge=0)
    weights: TaskWeights = TaskWeights()
    owners: int = Field(default=20, ge=1)
    max_requests: int = Field(default=1_000_000, ge=1)
    network_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.wait_min_s > self.wait_max_s:
            raise ValueError("wait_min_s must not exceed wait_max_s")
        if isinstance(self.shape, SpikeShape) and self.shape.at_s >= self.duration_s:
            raise ValueError("the spike starts after the run ends (at_s >= duration_s)")
        return self

    @property
    def distributed(self) -> bool:
        """A master and workers rather than one standalone process."""
        return self.workers + self.expect_workers > 0

    def worker_seed(self, index: int) -> int:
        """The seed of worker ``index``: distinct per worker, fixed by the run's seed.

        Derived by hashing, not by adding the index, so runs with neighbouring
        seeds never share a worker's sequence.
        """
        digest = hashlib.sha256(f"{self.seed}:worker:{index}".encode()).digest()
        return int.from_bytes(digest[:6], "big")

    def shape_params(self, base_dir: Path | None = None) -> dict[str, object]:
        """The ``CHAOSLAB_SHAPE_PARAMS`` object (see ``loadtests/curves.py``)."""
        shape = self.shape
        common: dict[str, object] = {"duration_s": self.duration_s}
        if isinstance(shape, SteadyShape):
            return {**common, "users": self.users, "spawn_rate": self.spawn_rate}
        if isinstance(shape, RampShape):
            ramp = {"from_users": shape.from_users, "to_users": self.users}
            ramp_s = {} if shape.ramp_s is None else {"ramp_s": shape.ramp_s}
            return {**common, **ramp, **ramp_s, "spawn_rate": self.spawn_rate}
        if isinstance(shape, SpikeShape):
            spike: dict[str, object] = {
                "base_users": self.users,
                "spike_users": shape.spike_users,
                "at_s": shape.at_s,
                "for_s": shape.for_s,
                "spawn_rate": self.spawn_rate,
            }
            if shape.spike_spawn_rate is not None:
                spike["spike_spawn_rate"] = shape.spike_spawn_rate
            return {**common, **spike}
        path = shape.path if base_dir is None or shape.path.is_absolute() else base_dir / shape.path
        replay: dict[str, object] = {
            "path": str(path.resolve()),
            "time_scale": shape.time_scale,
            "interpolate": shape.interpolate,
        }
        if shape.seconds_per_request is not None:
            replay["seconds_per_request"] = shape.seconds_per_request
        return {**common, **replay}


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One line of the request log."""

    started: float
    method: str
    name: str
    response_time_ms: float
    ok: bool
    status: int
    error: str

    @property
    def finished(self) -> float:
        return self.started + self.response_time_ms / 1000.0


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values; 0.0 when there are none."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class LoadFigures(_Frozen):
    """Golden-signal figures of the load over some span of time."""

    requests: int = 0
    failures: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0

    @classmethod
    def of(cls, records: Iterable[RequestRecord], seconds: float) -> LoadFigures:
        """Figures of ``records`` spread over ``seconds`` of wall time."""
        kept = list(records)
        times = sorted(record.response_time_ms for record in kept)
        return cls(
            requests=len(kept),
            failures=sum(1 for record in kept if not record.ok),
            rps=round(len(kept) / seconds, 3) if seconds > 0 else 0.0,
            p50_ms=round(percentile(times, 50), 3),
            p95_ms=round(percentile(times, 95), 3),
            p99_ms=round(percentile(times, 99), 3),
        )


class LoadWindows(_Frozen):
    """Before the first fault, while any fault is active, after the last one ends."""

    before: LoadFigures = LoadFigures()
    during: LoadFigures = LoadFigures()
    after: LoadFigures = LoadFigures()


class LoadReport(LoadFigures):
    """The journal's ``load`` object: whole-run figures plus the three windows."""

    windows: LoadWindows = LoadWindows()


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of ``(start, end)`` intervals; empty ones dropped."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def figures_over(records: Sequence[RequestRecord], intervals: Iterable[Interval]) -> LoadFigures:
    """Figures of the requests that finished inside any of ``intervals`` (half-open)."""
    spans = merge_intervals(intervals)
    kept = [r for r in records if any(start <= r.finished < end for start, end in spans)]
    return LoadFigures.of(kept, sum(end - start for start, end in spans))


def window_figures(records: Sequence[RequestRecord], start: float, end: float) -> LoadFigures:
    """Figures of the requests that finished in ``[start, end)``; zeros when none did."""
    return figures_over(records, [(start, end)])


def run_span(records: Sequence[RequestRecord]) -> Interval:
    """From the first request sent to the last one finished (just past it)."""
    if not records:
        return (0.0, 0.0)
    first = min(r.started for r in records)
    return (first, max(r.finished for r in records) + EPSILON_S)


def split_windows(
    records: Sequence[RequestRecord], span: Interval, faults: Iterable[Interval]
) -> LoadWindows:
    """Before the first fault, while any is active, after the last one (inside ``span``)."""
    start, end = span
    active = [(max(a, start), min(b, end)) for a, b in merge_intervals(faults)]
    active = [(a, b) for a, b in active if b > a]
    if not active:
        return LoadWindows(before=window_figures(records, start, end))
    return LoadWindows(
        before=window_figures(records, start, active[0][0]),
        during=figures_over(records, active),
        after=window_figures(records, active[-1][1], end),
    )


class LiveFigures(_Frozen):
    """What the live console shows: the last few seconds of load."""

    at: float
    window_s: float
    requests: int
    rps: float
    p95_ms: float
    error_rate: float


class HistoryPoint(_Frozen):
    """One per-second row of Locust's ``_stats_history.csv`` (the Aggregated line).

    ``rps``, ``failures_per_s`` and the percentiles are Locust's "current"
    values (a trailing window of about ten seconds); the totals are cumulative.
    """

    ts: float
    users: int
    rps: float
    failures_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    total_requests: int
    total_failures: int


class LoadOutcome(_Frozen):
    """How the Locust process ended."""

    exit_code: int | None
    timed_out: bool
    stopped: bool
    started_at: float
    finished_at: float
