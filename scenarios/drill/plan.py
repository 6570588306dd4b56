"""Plan a drill: pick the scenario (seeded), place its faults, name what responders must find.

* :func:`parse_range` reads ``--at 2m-8m``; :func:`choose` draws the scenario
  (with ``--pick``) and the fault offset from one seeded generator, so the
  same seed and catalog always give the same drill.
* :func:`drill_scenario` is the scenario as a drill runs it: the load goes on
  until ``drill end`` (bounded by ``max_duration``), the faults start at the
  drawn offset and stay until the end, and every expectation is judged over
  the whole drill window (recovery expectations, which need the fault to end
  first, are left out).
* :data:`DIAGNOSES` is the one table of fault kinds a responder can name.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assertions.expectations import parse_seconds
from scenarios.drill.model import FaultPlan
from scenarios.exceptions import DrillInvalid
from scenarios.faults import (
    AppFault,
    DbConnectionHogFault,
    DbLockFault,
    Fault,
    ProcessFault,
    ProxyDownFault,
    ToxicFault,
)
from scenarios.model import Scenario
from stack.profile import TargetProfile

#: The scenario name a drill runs under: what ledgers, logs and ``chaoslab status`` show.
DRILL_NAME = "drill"
DEFAULT_AT = "1m-5m"
DEFAULT_MAX_DURATION = "60m"
#: How long after ``drill end`` stops the load open expectations may still settle.
END_GRACE_S = 10.0


@dataclass(frozen=True)
class Diagnosis:
    description: str
    words: tuple[str, ...]


#: What a responder can say a fault is (``drill declare --kind``), with the words in a
#: declaration's text that count as naming it.
DIAGNOSES: dict[str, Diagnosis] = {
    "latency": Diagnosis("a dependency answers slowly", ("latency", "slow", "slowness")),
    "timeout": Diagnosis("a dependency stops answering", ("timeout", "timeouts", "hang", "hangs")),
    "bandwidth": Diagnosis("a link carries too little data", ("bandwidth", "throughput")),
    "connection-reset": Diagnosis("connections are reset", ("reset", "resets", "rst")),
    "outage": Diagnosis("a dependency is down or unreachable", ("outage", "down", "refused")),
    "frozen-process": Diagnosis("a process is paused", ("paused", "frozen", "sigstop")),
    "lock": Diagnosis("a table lock blocks queries", ("lock", "locked", "blocking")),
    "connection-hog": Diagnosis(
        "the database's connections are used up", ("connections", "max_connections")
    ),
    "slow-queries": Diagnosis(
        "queries hold their pooled connection too long (pool exhaustion)",
        ("pool", "exhaustion", "slow-queries", "slow queries"),
    ),
    "exceptions": Diagnosis("the service raises exceptions", ("exception", "exceptions", "bug")),
    "cpu": Diagnosis("the service burns CPU", ("cpu",)),
    "memory": Diagnosis("the service leaks memory", ("memory", "leak")),
    "pool-size": Diagnosis("the connection pool is too small", ("pool size", "pool_max")),
}

_TOXIC_DIAGNOSIS = {
    "latency": "latency",
    "slow_close": "latency",
    "slicer": "latency",
    "timeout": "timeout",
    "bandwidth": "bandwidth",
    "limit_data": "bandwidth",
    "reset_peer": "connection-reset",
}
#: App switches in the order that decides the diagnosis when several are set.
_SWITCH_DIAGNOSIS = {
    "slow_query_s": "slow-queries",
    "exception_rate": "exceptions",
    "pool_max": "pool-size",
    "cpu_burn_ms": "cpu",
    "memory_growth_kb": "memory",
}
_RANGE = re.compile(r"^\s*(?P<lo>[^-]+?)\s*(?:-|\.\.)\s*(?P<hi>[^-]+?)\s*$")


def parse_range(text: str) -> tuple[float, float]:
    """``'2m-8m'`` or ``'30s..90s'`` (or one duration) as seconds; DrillInvalid otherwise."""
    match = _RANGE.match(text)
    parts = (match.group("lo"), match.group("hi")) if match else (text, text)
    try:
        lo, hi = (parse_seconds(part.strip()) for part in parts)
    except ValueError as exc:
        raise DrillInvalid(f"--at {text!r}: {exc} (e.g. --at 2m-8m)") from exc
    if lo < 0 or hi < lo:
        raise DrillInvalid(f"--at {text!r}: the range must run from low to high, from 0 up")
    return lo, hi


def parse_duration(text: str, flag: str) -> float:
    try:
        seconds = parse_seconds(text)
    except ValueError as exc:
        raise DrillInvalid(f"{flag} {text!r}: {exc}") from exc
    if seconds <= 0:
        raise DrillInvalid(f"{flag} {text!r}: must be longer than 0 s")
    return seconds


def choose(candidates: Sequence[str], at: tuple[float, float], seed: int) -> tuple[str, float]:
    """The scenario (from ``candidates``, in their order) and the fault offset for ``seed``."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible draw, not a secret
    name = rng.choice(list(candidates))
    return name, round(rng.uniform(*at), 1)


def candidates(catalog: Mapping[str, Scenario], tags: Sequence[str], profile: str) -> list[str]:
    """Catalog scenarios with a fault, for ``profile``, carrying any of ``tags`` (all if none)."""
    wanted = set(tags)
    return sorted(
        name
        for name, scenario in catalog.items()
        if scenario.faults
        and scenario.profile.name == profile
        and (not wanted or wanted & set(scenario.tags))
    )


def diagnosis_of(fault: Fault) -> str:
    match fault:
        case ToxicFault():
            return _TOXIC_DIAGNOSIS[fault.toxic]
        case ProxyDownFault():
            return "outage"
        case DbLockFault():
            return "lock"
        case DbConnectionHogFault():
            return "connection-hog"
        case ProcessFault():
            return "outage" if fault.action == "kill" else "frozen-process"
        case AppFault():
            for switch, diagnosis in _SWITCH_DIAGNOSIS.items():
                if switch in fault.switches:
                    return diagnosis
            return "exceptions"
    raise AssertionError(fault)  # pragma: no cover - the match is exhaustive


def components(profile: TargetProfile) -> list[str]:
    """What a responder can name: the service, then each of its dependencies."""
    return [profile.service, *profile.dependencies]


def component_of(fault: Fault, profile: TargetProfile) -> str:
    """The component (as :func:`components` names it) a fault breaks."""
    if isinstance(fault, AppFault):
        return profile.service
    target = str(getattr(fault, "target", profile.service))
    if target == "target":
        return profile.service
    for name in profile.dependencies:
        if target in (name, profile.dependency_component(name)):
            return name
    return target


def fault_plans(scenario: Scenario, offset: float) -> list[FaultPlan]:
    first = scenario.first_fault_at or 0.0
    return [
        FaultPlan(
            id=fault.id,
            kind=fault.kind,
            diagnosis=diagnosis_of(fault),
            component=component_of(fault, scenario.profile),
            at=round(offset + fault.at - first, 3),
            detail=fault.description,
        )
        for fault in scenario.faults
    ]


def drill_scenario(scenario: Scenario, offset: float, max_duration: float) -> Scenario:
    """``scenario`` as a drill runs it (see the module doc)."""
    first = scenario.first_fault_at or 0.0
    data: dict[str, Any] = scenario.model_dump(mode="json", by_alias=True)
    data.update(name=DRILL_NAME, title="game-day drill", story="", tags=[], grace=END_GRACE_S)
    data["load"]["duration"] = max_duration
    for fault in data["faults"]:
        fault["at"] = round(offset + fault["at"] - first, 3)
        fault["duration"] = max_duration - fault["at"]
        fault["description"] = ""
    kept = []
    for exp in data["expectations"]:
        window = exp.get("window") or {}
        if window.get("after_end"):
            continue
        window["within"] = None
        kept.append(exp)
    data["expectations"] = kept
    if not kept:
        raise DrillInvalid(
            f"scenario {scenario.name} has only recovery expectations: nothing to judge in a drill"
        )
    return Scenario.model_validate(data).with_profile(scenario.profile)


def mentions(text: str, words: Sequence[str]) -> bool:
    """Does ``text`` name any of ``words`` (whole words, any case)?"""
    lowered = text.lower()
    return any(re.search(rf"(?<![\w-]){re.escape(w.lower())}(?![\w-])", lowered) for w in words)


def source_path(path: Path) -> str:
    return str(path.resolve())
