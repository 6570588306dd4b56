"""Fault kinds a scenario can inject, as pydantic models (``kind`` is the discriminator)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from assertions.expectations import Seconds
from target_app.chaos import ChaosSwitches

TOXIC_ATTRIBUTES: dict[str, frozenset[str]] = {
    "latency": frozenset({"latency", "jitter"}),
    "bandwidth": frozenset({"rate"}),
    "slow_close": frozenset({"delay"}),
    "timeout": frozenset({"timeout"}),
    "reset_peer": frozenset({"timeout"}),
    "slicer": frozenset({"average_size", "size_variation", "delay"}),
    "limit_data": frozenset({"bytes"}),
}
ProxyName = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_-]{0,40}$",
        description="a dependency of the target profile (its proxy): postgres, downstream...",
    ),
]


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,60}$")
    at: Seconds = Field(description="offset from the start of the load")
    duration: Seconds = Field(gt=0)
    description: str = ""

    @property
    def end(self) -> float:
        return self.at + self.duration


class ToxicFault(_Fault):
    """Any Toxiproxy toxic on the proxy of one of the profile's dependencies."""

    kind: Literal["toxic"] = "toxic"
    target: ProxyName
    toxic: Literal[
        "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"
    ]
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: float = Field(default=1.0, ge=0.0, le=1.0)
    attributes: dict[str, int] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _known_attributes(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        toxic = info.data.get("toxic")
        if toxic is None:
            return value  # the toxic type itself was invalid and is reported
        allowed = TOXIC_ATTRIBUTES[toxic]
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ValueError(
                f"toxic {toxic!r} has no attribute {', '.join(unknown)} "
                f"(it takes {', '.join(sorted(allowed))})"
            )
        return value


class ProxyDownFault(_Fault):
    """Disable a proxy: every connection through it is closed and refused."""

    kind: Literal["proxy_down"] = "proxy_down"
    target: ProxyName


class DbLockFault(_Fault):
    """A session holds a lock on a table the requests need, so queries queue on ``Lock``."""

    kind: Literal["db_lock"] = "db_lock"
    target: ProxyName = "postgres"
    table: str = Field(default="documents", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    mode: Literal["ACCESS EXCLUSIVE", "EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE"] = (
        "ACCESS EXCLUSIVE"
    )


class DbConnectionHogFault(_Fault):
    """Hold ``connections`` server connections idle, starving everyone else."""

    kind: Literal["db_connection_hog"] = "db_connection_hog"
    target: ProxyName = "postgres"
    connections: int = Field(ge=1, le=500)


class AppFault(_Fault):
    """The target's own fault switches (``/admin/chaos``)."""

    kind: Literal["app"] = "app"
    switches: dict[str, Any]

    @field_validator("switches")
    @classmethod
    def _known_switches(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("name at least one switch")
        ChaosSwitches.model_validate(value)  # raises with the switch and what was wrong
        return value


class ProcessFault(_Fault):
    """Pause (SIGSTOP/SIGCONT) or kill and restart a service the lab started."""

    kind: Literal["process"] = "process"
    target: str = Field(
        default="classifier",
        pattern=r"^[a-z][a-z0-9_-]{0,40}$",
        description="a component the profile makes the lab start: target, or a dependency's",
    )
    action: Literal["pause", "kill"] = "pause"


Fault = Annotated[
    ToxicFault | ProxyDownFault | DbLockFault | DbConnectionHogFault | AppFault | ProcessFault,
    Field(discriminator="kind"),
]
FAULT_KINDS = ("toxic", "proxy_down", "db_lock", "db_connection_hog", "app", "process")
