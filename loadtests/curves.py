"""Load curves: how many users should run ``t`` seconds into the test.

Pure functions of time, standard library only; :mod:`loadtests.shapes` wraps
them in a Locust ``LoadTestShape``. Every curve ends: ``at(t)`` returns None
once ``t`` reaches its duration, which is what stops the Locust run.

Parameters (``CHAOSLAB_SHAPE_PARAMS``, a JSON object; ``duration_s`` defaults
to ``CHAOSLAB_DURATION_S``):

``steady``  ``users``, ``spawn_rate``, ``duration_s``
``ramp``    ``from_users``, ``to_users``, ``duration_s``, ``ramp_s`` (default
            ``duration_s``: linear from→to over ``ramp_s``, then hold),
            ``spawn_rate`` (default: fast enough to follow the ramp)
``spike``   ``base_users``, ``spike_users``, ``at_s``, ``for_s``, ``duration_s``,
            ``spawn_rate`` (towards the base, default ``base_users``),
            ``spike_spawn_rate`` (into and out of the spike, default: the
            whole jump in one second)
``replay``  ``path`` (CSV), ``time_scale`` (default 1; 10 plays a recorded
            curve ten times faster), ``interpolate`` (default true: linear
            between points; false: hold each value until the next point),
            ``seconds_per_request``, ``spawn_rate``, ``duration_s`` (optional
            cap; the curve ends at its last point)

Replay CSV: a header ``t_seconds,users`` or ``t_seconds,rps``, then one row
per point, ``t_seconds`` strictly increasing from >= 0; ``#`` lines are
comments. An ``rps`` curve becomes users by Little's law: one user issues
about one request per ``seconds_per_request`` (its mean think time plus the
request itself), so ``users = ceil(rps * seconds_per_request)``. The default
``seconds_per_request`` is the configured mean wait plus 20 ms of service
time; pass the real figure when the service is slower.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from loadtests.config import ConfigError, LoadConfig

ASSUMED_SERVICE_TIME_S = 0.02
MAX_CURVE_POINTS = 100_000


@dataclass(frozen=True)
class Tick:
    """Target user count and the rate (users/s) at which to get there."""

    users: int
    spawn_rate: float


class Curve(Protocol):
    @property
    def duration_s(self) -> float: ...

    def at(self, t: float) -> Tick | None: ...


@dataclass(frozen=True)
class Steady:
    users: int
    spawn_rate: float
    duration_s: float

    def at(self, t: float) -> Tick | None:
        if t >= self.duration_s:
            return None
        return Tick(self.users, self.spawn_rate)


@dataclass(frozen=True)
class Ramp:
    from_users: int
    to_users: int
    duration_s: float
    ramp_s: float
    spawn_rate: float

    def at(self, t: float) -> Tick | None:
        if t >= self.duration_s:
            return None
        fraction = 1.0 if self.ramp_s <= 0 else min(1.0, max(0.0, t / self.ramp_s))
        users = round(self.from_users + (self.to_users - self.from_users) * fraction)
        return Tick(users, self.spawn_rate)


@dataclass(frozen=True)
class Spike:
    base_users: int
    spike_users: int
    at_s: float
    for_s: float
    duration_s: float
    spawn_rate: float
    spike_spawn_rate: float

    def at(self, t: float) -> Tick | None:
        if t >= self.duration_s:
            return None
        if t < self.at_s:
            return Tick(self.base_users, self.spawn_rate)
        if t < self.at_s + self.for_s:
            return Tick(self.spike_users, self.spike_spawn_rate)
        return Tick(self.base_users, self.spike_spawn_rate)


@dataclass(frozen=True)
class Replay:
    """A recorded curve of user counts (already converted from RPS if needed)."""

    times: tuple[float, ...]
    users: tuple[float, ...]
    time_scale: float
    interpolate: bool
    spawn_rate: float
    cap_s: float

    @property
    def duration_s(self) -> float:
        return min(self.times[-1] / self.time_scale, self.cap_s)

    def at(self, t: float) -> Tick | None:
        if t >= self.duration_s:
            return None
        recorded_t = t * self.time_scale
        index = bisect.bisect_right(self.times, recorded_t) - 1
        if index < 0:
            value = self.users[0]
        elif not self.interpolate or index == len(self.times) - 1:
            value = self.users[index]
        else:
            t0, t1 = self.times[index], self.times[index + 1]
            u0, u1 = self.users[index], self.users[index + 1]
            value = u0 + (u1 - u0) * (recorded_t - t0) / (t1 - t0)
        return Tick(math.ceil(value - 1e-9), self.spawn_rate)


def _number(params: Mapping[str, object], key: str, default: float | None = None) -> float:
    value = params.get(key, default)
    if value is None:
        raise ConfigError(f"shape parameter {key!r} is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"shape parameter {key!r} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"shape parameter {key!r} must be a finite number >= 0")
    return float(value)


def _count(params: Mapping[str, object], key: str, default: int | None = None) -> int:
    value = _number(params, key, default)
    if value != int(value):
        raise ConfigError(f"shape parameter {key!r} must be a whole number")
    return int(value)


def _positive(params: Mapping[str, object], key: str, default: float | None = None) -> float:
    value = _number(params, key, default)
    if value <= 0:
        raise ConfigError(f"shape parameter {key!r} must be > 0")
    return value


def read_curve(path: Path) -> tuple[str, list[float], list[float]]:
    """``(unit, times, values)`` of a replay CSV; unit is ``users`` or ``rps``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"replay curve {path}: {exc.strerror or exc}") from exc
    rows = [
        (number, row)
        for number, row in enumerate(csv.reader(text.splitlines()), start=1)
        if row and not row[0].lstrip().startswith("#")
    ]
    if not rows:
        raise ConfigError(f"replay curve {path} is empty")
    header = [cell.strip() for cell in rows[0][1]]
    if len(header) != 2 or header[0] != "t_seconds" or header[1] not in ("users", "rps"):
        raise ConfigError(f"replay curve {path}: header must be t_seconds,users or t_seconds,rps")
    times: list[float] = []
    values: list[float] = []
    for number, row in rows[1:]:
        try:
            t, value = (float(cell) for cell in row)
        except ValueError as exc:
            raise ConfigError(f"replay curve {path}, line {number}: {row!r} {exc}") from exc
        if not (math.isfinite(t) and math.isfinite(value)) or t < 0 or value < 0:
            raise ConfigError(f"replay curve {path}, line {number}: values must be finite and >= 0")
        if times and t <= times[-1]:
            raise ConfigError(f"replay curve {path}, line {number}: t_seconds must increase")
        times.append(t)
        values.append(value)
    if len(times) < 2:
        raise ConfigError(f"replay curve {path}: needs at least two points")
    if len(times) > MAX_CURVE_POINTS:
        raise ConfigError(f"replay curve {path}: more than {MAX_CURVE_POINTS} points")
    return header[1], times, values


def _replay(params: Mapping[str, object], config: LoadConfig) -> Replay:
    raw_path = params.get("path")
    if not isinstance(raw_path, str) or not raw_path:
        raise ConfigError("shape parameter 'path' (the replay CSV) is required")
    unit, times, values = read_curve(Path(raw_path))
    if unit == "rps":
        per_request = _positive(
            params, "seconds_per_request", config.mean_cycle_s + ASSUMED_SERVICE_TIME_S
        )
        values = [float(math.ceil(rps * per_request - 1e-9)) for rps in values]
    interpolate = params.get("interpolate", True)
    if not isinstance(interpolate, bool):
        raise ConfigError("shape parameter 'interpolate' must be true or false")
    jumps: Sequence[float] = [abs(b - a) for a, b in itertools.pairwise(values)]
    return Replay(
        times=tuple(times),
        users=tuple(values),
        time_scale=_positive(params, "time_scale", 1.0),
        interpolate=interpolate,
        spawn_rate=_positive(params, "spawn_rate", max(1.0, *jumps)),
        cap_s=_positive(params, "duration_s", config.duration_s),
    )


def build_curve(config: LoadConfig) -> Curve:
    """The curve ``CHAOSLAB_SHAPE`` / ``CHAOSLAB_SHAPE_PARAMS`` describe."""
    params = config.shape_params
    if config.shape == "replay":
        return _replay(params, config)
    duration = _positive(params, "duration_s", config.duration_s)
    if config.shape == "steady":
        users = _count(params, "users")
        return Steady(users, _positive(params, "spawn_rate", max(1.0, users)), duration)
    if config.shape == "ramp":
        start, end = _count(params, "from_users", 0), _count(params, "to_users")
        ramp_s = _number(params, "ramp_s", duration)
        follow = max(1.0, 2 * abs(end - start) / max(ramp_s, 1.0))
        return Ramp(start, end, duration, ramp_s, _positive(params, "spawn_rate", follow))
    if config.shape == "spike":
        base, spike = _count(params, "base_users"), _count(params, "spike_users")
        return Spike(
            base_users=base,
            spike_users=spike,
            at_s=_number(params, "at_s"),
            for_s=_positive(params, "for_s"),
            duration_s=duration,
            spawn_rate=_positive(params, "spawn_rate", max(1.0, base)),
            spike_spawn_rate=_positive(params, "spike_spawn_rate", max(1.0, abs(spike - base))),
        )
    raise ConfigError(f"CHAOSLAB_SHAPE={config.shape!r}: expected steady, ramp, spike or replay")
