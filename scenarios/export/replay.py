"""A recorded run on promtool's clock: input series on a grid, alert states at evaluations.

promtool starts every input series at time 0 and steps by the test's
``interval``; the lab's Prometheus scraped every second at some phase and
evaluated the rules every second at another. The grid's origin is the phase
most samples share (all series of one scrape carry the scrape's timestamp),
so each raw sample lands on its own index; a sample missing after one that
was there is a staleness marker (a failed scrape, or a series that went away,
is exactly what writes one in Prometheus), a missing one before the series
first appeared is a gap.

An evaluation at real time ``r`` saw the samples scraped at or before ``r``,
which is promtool's evaluation at ``floor((r - origin) / step)``. ``ALERTS``
samples carry the evaluation time, so every observed pending and firing state
has its promtool evaluation. Evaluations that end a scrape early or late can
still move a transition by one step, so a check is placed only in the middle
of a stretch where an alert's state held for at least ``margin`` evaluations
on either side.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from assertions.promql import MatrixResult
from scenarios.export.exceptions import SeriesMissing
from scenarios.export.recording import SeriesRecording
from scenarios.export.series import STALE, Value

MARGIN = 3
#: Labels of an alert instance (``ALERTS`` labels without ``__name__`` and ``alertstate``).
LabelSet = tuple[tuple[str, str], ...]
_DROPPED = ("__name__", "alertstate")


@dataclass(frozen=True)
class InputSeries:
    labels: dict[str, str]
    values: list[Value]

    @property
    def selector(self) -> str:
        name = self.labels.get("__name__", "")
        rest = ", ".join(
            f"{k}={_quote(v)}" for k, v in sorted(self.labels.items()) if k != "__name__"
        )
        return name + "{" + rest + "}"


@dataclass(frozen=True)
class Check:
    """What was observed of one alert at one evaluation (firing instances; none = silent)."""

    alertname: str
    index: int
    state: str
    firing: tuple[LabelSet, ...]


@dataclass
class Replay:
    run_id: str
    origin: datetime
    step_s: float
    series: list[InputSeries]
    checks: list[Check]
    first_index: int
    last_index: int
    fired: set[str] = field(default_factory=set)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _phase(times: Iterable[float], step: float) -> float:
    """The sub-step offset most samples share (to the 10 ms)."""
    counts = Counter(round(t % step, 2) % step for t in times)
    return counts.most_common(1)[0][0] if counts else 0.0


def _index(seconds: float, step: float) -> int:
    return math.floor(seconds / step + 1e-6)


def _grid(
    result: MatrixResult | None, origin: float, step: float, length: int
) -> Iterable[InputSeries]:
    if result is None:
        return
    for series in result.series:
        values: list[Value] = [None] * length
        for sample in series.samples:
            index = round((sample.at.timestamp() - origin) / step)
            if 0 <= index < length:
                values[index] = sample.value
        seen = False
        for index, value in enumerate(values):
            if value is not None:
                seen = True
            elif seen:
                values[index] = STALE
                seen = False
        yield InputSeries(dict(series.labels), values)


def replay(recording: SeriesRecording, alertnames: list[str], margin: int = MARGIN) -> Replay:
    """The recording on promtool's grid, with a check per steady stretch of each alert's state."""
    if recording.alerts is None:
        raise SeriesMissing(f"run {recording.run_id} recorded no alert states (ALERTS)")
    step = recording.scrape_interval_s
    window = recording.window_start.timestamp()
    times = [
        s.at.timestamp() - window
        for sel in recording.selectors
        if sel.result is not None
        for series in sel.result.series
        for s in series.samples
    ]
    if not times:
        raise SeriesMissing(
            f"run {recording.run_id}: Prometheus had no sample of any rule's series"
        )
    origin = window + _phase(times, step)
    length = _index(recording.finished_at.timestamp() - origin, step) + 1
    merged: dict[LabelSet, InputSeries] = {}
    for sel in recording.selectors:
        for series in _grid(sel.result, origin, step, length):
            merged.setdefault(tuple(sorted(series.labels.items())), series)
    first = max(0, _index(recording.started_at.timestamp() - origin, step))
    last = length - 1
    states: dict[str, dict[int, tuple[set[LabelSet], set[LabelSet]]]] = {n: {} for n in alertnames}
    fired: set[str] = set()
    for alert in recording.alerts.series:
        name = alert.labels.get("alertname", "")
        if name not in states:
            continue
        labels = tuple(
            sorted((k, v) for k, v in alert.labels.items() if k not in (*_DROPPED, "alertname"))
        )
        firing = alert.labels.get("alertstate") == "firing"
        for sample in alert.samples:
            index = _index(sample.at.timestamp() - origin, step)
            slot = states[name].setdefault(index, (set(), set()))
            slot[0 if firing else 1].add(labels)
            if firing and first <= index <= last:
                fired.add(name)
    checks: list[Check] = []
    for name in alertnames:
        checks.extend(_checks(name, states[name], first, last, margin))
    checks.sort(key=lambda c: (c.alertname, c.index))
    return Replay(
        run_id=recording.run_id,
        origin=datetime.fromtimestamp(origin, recording.window_start.tzinfo),
        step_s=step,
        series=[merged[key] for key in sorted(merged)],
        checks=checks,
        first_index=first,
        last_index=last,
        fired=fired,
    )


def _checks(
    name: str,
    states: dict[int, tuple[set[LabelSet], set[LabelSet]]],
    first: int,
    last: int,
    margin: int,
) -> Iterable[Check]:
    def signature(index: int) -> tuple[frozenset[LabelSet], frozenset[LabelSet]]:
        firing, pending = states.get(index, (set(), set()))
        return frozenset(firing), frozenset(pending - firing)

    start = first
    while start <= last:
        sig = signature(start)
        end = start
        while end + 1 <= last and signature(end + 1) == sig:
            end += 1
        if end - start >= 2 * margin:
            firing, pending = sig
            state = "firing" if firing else ("pending" if pending else "inactive")
            yield Check(name, (start + end) // 2, state, tuple(sorted(firing)))
        start = end + 1


__all__ = ["MARGIN", "Check", "InputSeries", "Replay", "replay"]
