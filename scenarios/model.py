"""The scenario file: story, target settings, load, fault timeline and expectations."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from assertions.expectations import Expectation, Seconds
from scenarios.faults import Fault
from scenarios.loadmodel import ShapeSpec, SteadyShape


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetSettings(_Strict):
    """How the target service is configured for this run (``TARGET_*``)."""

    pool_min: int = Field(default=2, ge=0)
    pool_max: int = Field(default=10, ge=1, le=500)
    pool_acquire_timeout_s: float = Field(default=30.0, gt=0)
    statement_timeout_ms: int = Field(default=30_000, ge=0)
    downstream_timeout_s: float = Field(default=2.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    sampling_ratio: float = Field(default=1.0, ge=0, le=1)
    health_check_timeout_s: float = Field(default=2.0, gt=0)

    def env(self) -> dict[str, str]:
        return {f"TARGET_{name.upper()}": str(value) for name, value in self.model_dump().items()}


class ClassifierSettings(_Strict):
    latency_ms: float = Field(default=5.0, ge=0)
    jitter_ms: float = Field(default=0.0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)

    def env(self) -> dict[str, str]:
        return {
            f"CLASSIFIER_{name.upper()}": str(value) for name, value in self.model_dump().items()
        }


def _shape_by_name(value: object) -> object:
    """``shape: steady`` is short for ``shape: {kind: steady}``."""
    return {"kind": value} if isinstance(value, str) else value


class LoadSettings(_Strict):
    """Locust: users, spawn rate, shape and how long."""

    user_class: Literal["DocumentUser"] = "DocumentUser"
    users: int = Field(default=20, ge=1, le=2000)
    spawn_rate: float = Field(default=20, gt=0)
    shape: Annotated[ShapeSpec, BeforeValidator(_shape_by_name)] = SteadyShape()
    duration: Seconds = Field(gt=0, le=3600)
    wait_min: Seconds = Field(default=0.2, description="think time between a user's requests")
    wait_max: Seconds = 0.6

    @model_validator(mode="after")
    def _wait_range(self) -> LoadSettings:
        if self.wait_min > self.wait_max:
            raise ValueError("wait_min must not exceed wait_max")
        return self


class Scenario(_Strict):
    """One incident to replay."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,60}$")
    title: str
    story: str = ""
    target: TargetSettings = Field(default_factory=TargetSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    load: LoadSettings
    faults: list[Fault] = Field(default_factory=list)
    expectations: list[Expectation] = Field(min_length=1)
    grace: Seconds = Field(
        default=30.0, description="how long after the load ends open expectations may settle"
    )

    @model_validator(mode="after")
    def _coherent(self) -> Scenario:
        problems: list[str] = []
        fault_ids = [f.id for f in self.faults]
        for fault_id in {f for f in fault_ids if fault_ids.count(f) > 1}:
            problems.append(f"fault id {fault_id!r} is used twice")
        exp_ids = [e.id for e in self.expectations]
        for exp_id in {e for e in exp_ids if exp_ids.count(e) > 1}:
            problems.append(f"expectation id {exp_id!r} is used twice")
        for fault in self.faults:
            if fault.end > self.load.duration:
                problems.append(
                    f"fault {fault.id!r} runs until {fault.end:g}s, after the load ends "
                    f"at {self.load.duration:g}s"
                )
        known = set(fault_ids)
        for exp in self.expectations:
            if exp.window.fault is not None and exp.window.fault not in known:
                choices = ", ".join(sorted(known)) or "none defined"
                problems.append(
                    f"expectation {exp.id!r} names unknown fault {exp.window.fault!r} "
                    f"(faults: {choices})"
                )
        if problems:
            raise ValueError("; ".join(sorted(problems)))
        return self

    @property
    def first_fault_at(self) -> float | None:
        return min((f.at for f in self.faults), default=None)

    @property
    def last_fault_end(self) -> float | None:
        return max((f.end for f in self.faults), default=None)
