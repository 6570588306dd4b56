"""The environment contract between the lab and the Locust process.

Every knob of a load run arrives as a ``CHAOSLAB_*`` environment variable
(``scenarios.load`` sets them). Standard library only: no Locust import here.

=============================  ===============================================
``CHAOSLAB_RUN_ID``            sent as ``X-Chaoslab-Run`` on every request
``CHAOSLAB_SEED``              integer; every random choice derives from it
``CHAOSLAB_WAIT_MIN_S``        think time lower bound (default 0.05)
``CHAOSLAB_WAIT_MAX_S``        think time upper bound (default 0.2)
``CHAOSLAB_PACING_S``          if > 0: constant pacing instead (one task per N s)
``CHAOSLAB_TASK_WEIGHTS``      JSON ``{"create": 3, "get": 5, "list": 2, "reprocess": 1}``
``CHAOSLAB_OWNERS``            how many distinct owner e-mails the users share
``CHAOSLAB_SHAPE``             ``steady`` | ``ramp`` | ``spike`` | ``replay``
``CHAOSLAB_SHAPE_PARAMS``      JSON object, see :mod:`loadtests.curves`
``CHAOSLAB_DURATION_S``        hard cap on the run's length, whatever the shape
``CHAOSLAB_MAX_REQUESTS``      hard cap on the number of requests
``CHAOSLAB_REQUEST_LOG_DIR``   if set: one CSV line per request written there
``CHAOSLAB_NETWORK_TIMEOUT_S`` per-request timeout (default 30)
``CHAOSLAB_WORKER``            a distributed worker's name (``w0``, ``w1``...; letters,
                               digits, ``.``, ``_``, ``-``): its request log is
                               ``requests-<name>-<pid>.csv``; its ``CHAOSLAB_SEED``
                               is already that worker's own (derived by the lab)
=============================  ===============================================
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SAFE_WORKER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ACTIONS = ("create", "get", "list", "reprocess")
DEFAULT_WEIGHTS: Mapping[str, int] = {"create": 3, "get": 5, "list": 2, "reprocess": 1}


class ConfigError(ValueError):
    """A ``CHAOSLAB_*`` variable is missing or malformed."""


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a number") from exc


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc


def _json_object(env: Mapping[str, str], name: str) -> dict[str, object]:
    raw = env.get(name) or "{}"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object, got {raw!r}")
    return value


def _weights(env: Mapping[str, str]) -> tuple[int, ...]:
    given = _json_object(env, "CHAOSLAB_TASK_WEIGHTS")
    unknown = set(given) - set(ACTIONS)
    if unknown:
        raise ConfigError(f"CHAOSLAB_TASK_WEIGHTS: unknown actions {sorted(unknown)}")
    weights = []
    for action in ACTIONS:
        weight = given.get(action, DEFAULT_WEIGHTS[action])
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
            raise ConfigError(f"CHAOSLAB_TASK_WEIGHTS: {action} must be an integer >= 0")
        weights.append(weight)
    if sum(weights) == 0:
        raise ConfigError("CHAOSLAB_TASK_WEIGHTS: at least one weight must be positive")
    return tuple(weights)


@dataclass(frozen=True)
class LoadConfig:
    """Everything the users and the shape read from the environment."""

    run_id: str = "adhoc"
    seed: int = 0
    wait_min_s: float = 0.05
    wait_max_s: float = 0.2
    pacing_s: float = 0.0
    weights: tuple[int, ...] = tuple(DEFAULT_WEIGHTS[a] for a in ACTIONS)
    owners: int = 20
    shape: str = "steady"
    shape_params: Mapping[str, object] = field(default_factory=dict)
    duration_s: float = 60.0
    max_requests: int = 1_000_000
    request_log_dir: Path | None = None
    network_timeout_s: float = 30.0
    worker: str = ""

    @property
    def mean_cycle_s(self) -> float:
        """Mean seconds one user spends waiting between two tasks."""
        if self.pacing_s > 0:
            return self.pacing_s
        return (self.wait_min_s + self.wait_max_s) / 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LoadConfig:
        env = os.environ if env is None else env
        run_id = env.get("CHAOSLAB_RUN_ID") or "adhoc"
        if not SAFE_RUN_ID.match(run_id):
            raise ConfigError(f"CHAOSLAB_RUN_ID={run_id!r} must match {SAFE_RUN_ID.pattern}")
        log_dir = env.get("CHAOSLAB_REQUEST_LOG_DIR")
        worker = env.get("CHAOSLAB_WORKER") or ""
        if worker and not SAFE_WORKER.match(worker):
            raise ConfigError(f"CHAOSLAB_WORKER={worker!r} must match {SAFE_WORKER.pattern}")
        config = cls(
            run_id=run_id,
            seed=_int(env, "CHAOSLAB_SEED", 0),
            wait_min_s=_float(env, "CHAOSLAB_WAIT_MIN_S", 0.05),
            wait_max_s=_float(env, "CHAOSLAB_WAIT_MAX_S", 0.2),
            pacing_s=_float(env, "CHAOSLAB_PACING_S", 0.0),
            weights=_weights(env),
            owners=_int(env, "CHAOSLAB_OWNERS", 20),
            shape=env.get("CHAOSLAB_SHAPE") or "steady",
            shape_params=_json_object(env, "CHAOSLAB_SHAPE_PARAMS"),
            duration_s=_float(env, "CHAOSLAB_DURATION_S", 60.0),
            max_requests=_int(env, "CHAOSLAB_MAX_REQUESTS", 1_000_000),
            request_log_dir=Path(log_dir) if log_dir else None,
            network_timeout_s=_float(env, "CHAOSLAB_NETWORK_TIMEOUT_S", 30.0),
            worker=worker,
        )
        config.check()
        return config

    def check(self) -> None:
        if not 0 <= self.wait_min_s <= self.wait_max_s:
            raise ConfigError("need 0 <= CHAOSLAB_WAIT_MIN_S <= CHAOSLAB_WAIT_MAX_S")
        if self.pacing_s < 0:
            raise ConfigError("CHAOSLAB_PACING_S must be >= 0")
        if self.owners < 1:
            raise ConfigError("CHAOSLAB_OWNERS must be >= 1")
        if self.duration_s <= 0:
            raise ConfigError("CHAOSLAB_DURATION_S must be > 0")
        if self.max_requests < 1:
            raise ConfigError("CHAOSLAB_MAX_REQUESTS must be >= 1")
        if self.network_timeout_s <= 0:
            raise ConfigError("CHAOSLAB_NETWORK_TIMEOUT_S must be > 0")
