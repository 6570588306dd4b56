"""How to undo a fault, as data: written to disk before the fault is applied.

An undo must be replayable by another process (``chaoslab panic``, the next
``run``) after the runner that applied the fault died, so it is a small
pydantic model naming what to revert, never a closure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from scenarios.controls import Controls


class _Undo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RemoveToxic(_Undo):
    action: Literal["remove_toxic"] = "remove_toxic"
    proxy: str
    name: str


class EnableProxy(_Undo):
    action: Literal["enable_proxy"] = "enable_proxy"
    proxy: str


class EndSessions(_Undo):
    """End the PostgreSQL sessions a fault holds (``chaoslab-fault-<fault_id>``)."""

    action: Literal["end_sessions"] = "end_sessions"
    fault_id: str


class ResetSwitches(_Undo):
    action: Literal["reset_switches"] = "reset_switches"


class ResumeProcess(_Undo):
    action: Literal["resume_process"] = "resume_process"
    component: str
    pid: int
    start_time: int | None = None


class RestartComponent(_Undo):
    action: Literal["restart_component"] = "restart_component"
    component: str


Undo = Annotated[
    RemoveToxic | EnableProxy | EndSessions | ResetSwitches | ResumeProcess | RestartComponent,
    Field(discriminator="action"),
]


def perform(undo: Undo, controls: Controls, restart: Callable[[str], None]) -> None:
    """Carry ``undo`` out; raises (a :class:`~scenarios.exceptions.FaultError`...) on failure."""
    match undo:
        case RemoveToxic():
            controls.remove_toxic(undo.proxy, undo.name)
        case EnableProxy():
            controls.set_proxy_enabled(undo.proxy, True)
        case EndSessions():
            controls.terminate_sessions(undo.fault_id)
        case ResetSwitches():
            controls.reset_switches()
        case ResumeProcess():
            controls.resume(undo.pid, undo.start_time)
        case RestartComponent():
            restart(undo.component)
