"""The scenario file: story, target settings, load, fault timeline and expectations."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

from assertions.expectations import Expectation, Seconds
from scenarios.faults import Fault
from scenarios.loadmodel import ShapeSpec, SteadyShape
from stack.profile import TARGET_COMPONENT, TargetProfile, default_profile, settings_env


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SettingValue = bool | int | float | str


class TargetRef(BaseModel):
    """Which service the scenario breaks (``profile``) and its settings for this run.

    Every other key is one of the profile's ``settings`` (the bundled document
    service has ``pool_max``, ``pool_acquire_timeout_s``...); they are checked
    against the profile when the scenario is loaded.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    profile: str | None = Field(
        default=None,
        description="the target profile file, relative to the scenario; "
        "the bundled document service when omitted",
    )

    @property
    def values(self) -> dict[str, SettingValue]:
        return dict(self.model_extra or {})


def _shape_by_name(value: object) -> object:
    """``shape: steady`` is short for ``shape: {kind: steady}``."""
    return {"kind": value} if isinstance(value, str) else value


class LoadSettings(_Strict):
    """Locust: users, spawn rate, shape and how long."""

    user_class: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="one of the profile's Locust user classes (default: all of them)",
    )
    users: int = Field(default=20, ge=1, le=2000)
    spawn_rate: float = Field(default=20, gt=0)
    shape: Annotated[ShapeSpec, BeforeValidator(_shape_by_name)] = SteadyShape()
    duration: Seconds = Field(gt=0, le=3600)
    wait_min: Seconds = Field(default=0.2, description="think time between a user's requests")
    wait_max: Seconds = 0.6
    workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="Locust workers the lab starts beside a master bound to 127.0.0.1 "
        "(0: a single local Locust process); `chaoslab run --load-workers N` overrides it",
    )
    expect_workers: int = Field(
        default=0,
        ge=0,
        le=64,
        description="extra workers, started by hand (see docs/running.md), that the master "
        "also waits for before the load starts",
    )

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
    tags: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")]] = Field(
        default_factory=list,
        description="words a game-day drill picks by (`chaoslab drill start --pick --from TAG`)",
    )
    target: TargetRef = Field(default_factory=TargetRef)
    dependencies: dict[str, dict[str, SettingValue]] = Field(
        default_factory=dict,
        description="settings of the dependencies the profile starts, by dependency name",
    )
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

    _profile: TargetProfile | None = PrivateAttr(default=None)

    def with_profile(self, profile: TargetProfile) -> Scenario:
        """Bind the target profile this scenario runs against (the loader does)."""
        self._profile = profile
        return self

    @property
    def profile(self) -> TargetProfile:
        """The bound profile; the bundled document service when none was bound."""
        if self._profile is None:
            self._profile = default_profile()
        return self._profile

    def settings(self) -> dict[str, dict[str, str]]:
        """Environment of each component with settings: the profile's defaults, ours on top."""
        profile = self.profile
        settings: dict[str, dict[str, str]] = {}
        if profile.settings:
            settings[TARGET_COMPONENT] = settings_env(profile.settings, dict(self.target.values))
        for name, dep in profile.dependencies.items():
            if dep.settings:
                values = dict(self.dependencies.get(name, {}))
                settings[profile.dependency_component(name)] = settings_env(dep.settings, values)
        return settings

    @property
    def first_fault_at(self) -> float | None:
        return min((f.at for f in self.faults), default=None)

    @property
    def last_fault_end(self) -> float | None:
        return max((f.end for f in self.faults), default=None)
