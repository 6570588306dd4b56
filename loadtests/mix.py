"""A Locust user made from a request mix a target profile declares (no Locust file needed).

``CHAOSLAB_REQUEST_MIX`` holds the mix as JSON::

    {"requests": [{"name": "GET /books/{id}", "method": "GET", "path": "/books/{id}",
                   "weight": 5, "json": null, "expect": [200]}, ...],
     "vars": {"id": [1, 50]}}

Each task is one kind of request, drawn by weight; ``{name}`` in the path and
in string values of the JSON body is an integer drawn from ``vars[name]``
(inclusive), and a response whose status is not in ``expect`` is a failure.
Think time and every random draw come from the run's config and seed.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from locust import HttpUser

from loadtests.config import ConfigError, LoadConfig

CONFIG = LoadConfig.from_env()
_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _mix(env: Mapping[str, str]) -> dict[str, Any]:
    raw = env.get("CHAOSLAB_REQUEST_MIX", "")
    if not raw:
        return {"requests": [], "vars": {}}
    try:
        mix = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"CHAOSLAB_REQUEST_MIX is not JSON: {exc}") from exc
    if not isinstance(mix, dict) or not isinstance(mix.get("requests"), list):
        raise ConfigError("CHAOSLAB_REQUEST_MIX needs a list of requests")
    return mix


MIX = _mix(os.environ)


def _fill(value: Any, draw: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return _VAR.sub(lambda m: draw(m.group(1)), value)
    if isinstance(value, list):
        return [_fill(item, draw) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, draw) for key, item in value.items()}
    return value


def _task(spec: Mapping[str, Any]) -> Callable[[RequestMixUser], None]:
    method = str(spec.get("method", "GET"))
    path = str(spec["path"])
    name = str(spec.get("name") or f"{method} {path}")
    expect = {int(code) for code in spec.get("expect", [200])}
    body = spec.get("json")

    def request(user: RequestMixUser) -> None:
        url = _fill(path, user.draw)
        payload = None if body is None else _fill(body, user.draw)
        with user.client.request(
            method, url, json=payload, name=name, catch_response=True
        ) as response:
            if response.status_code not in expect:
                response.failure(f"status {response.status_code}, expected {sorted(expect)}")

    request.__name__ = name
    return request


class RequestMixUser(HttpUser):
    """Requests from the profile's mix, by weight."""

    abstract = not MIX["requests"]
    # Locust draws a task from this list uniformly: a weight is that many entries.
    tasks: ClassVar[list[Any]] = [  # type: ignore[misc]  # Locust declares it per instance
        task for spec in MIX["requests"] for task in [_task(spec)] * int(spec.get("weight", 1))
    ]
    _spawned = itertools.count()

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)  # type: ignore[no-untyped-call]  # no hints upstream
        seed = f"{CONFIG.seed}:mix:{next(RequestMixUser._spawned)}"
        self.rng = random.Random(seed)  # noqa: S311 - reproducible load choices, not secrets
        self.ranges: dict[str, tuple[int, int]] = {
            key: (int(low), int(high)) for key, (low, high) in MIX.get("vars", {}).items()
        }

    def wait_time(self) -> float:
        return self.rng.uniform(CONFIG.wait_min_s, CONFIG.wait_max_s)

    def draw(self, var: str) -> str:
        low, high = self.ranges.get(var, (1, 100))
        return str(self.rng.randint(low, high))


__all__ = ["RequestMixUser"]
