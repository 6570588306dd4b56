"""A run attached to the local stack that ``chaoslab up`` left running.

    stack = AttachedStack.attach(Path(".chaoslab"))
    if stack is not None:
        stack.apply_settings({"target": {"TARGET_POOL_MAX": "10"}})
        ...
        stack.close()               # leaves every process running

It knows the stack only through ``stack.json``: to restart an app component
it did not spawn it uses the recorded argv, cwd, environment and settings
(:mod:`stack.respawn`); the new process runs in its own session, outlives
this one, and is written to ``stack.json`` (under the state dir's lock) the
moment it is spawned, so ``chaoslab down`` stops it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from stack.exceptions import StackError, StackStateError
from stack.local import COMPONENTS, component_healthy
from stack.process import ManagedProcess, pid_alive
from stack.respawn import apply_settings, respawn
from stack.state import ComponentState, Endpoints, StackState, read_state, state_lock, write_state

HEALTH_PATIENCE_S = 15.0
"""How long a live component may take to answer its health probe before attaching gives up."""


class AttachedStack:
    """A healthy, detached local stack this process did not start; never stopped by it."""

    def __init__(self, state: StackState) -> None:
        self._state = state
        self.state_dir = Path(state.state_dir)
        self._restarted: dict[str, ManagedProcess] = {}

    @classmethod
    def attach(cls, state_dir: Path, profile_digest: str | None = None) -> AttachedStack | None:
        """The stack recorded in ``state_dir`` if complete, detached and healthy, else None.

        With ``profile_digest``, also None when the stack runs another target profile.
        """
        try:
            state = read_state(state_dir.resolve())
        except StackStateError:
            return None
        if state is None or not state.complete or state.owner_pid is not None:
            return None
        if set(COMPONENTS) - {"postgres"} - set(state.components):
            return None
        if profile_digest is not None and (
            state.profile is None or state.profile.digest != profile_digest
        ):
            return None
        if not _healthy(state):
            return None
        return cls(state)

    # -- the Stack seam ---------------------------------------------------------------

    @property
    def state(self) -> StackState:
        return self._state

    @property
    def endpoints(self) -> Endpoints:
        return self._state.endpoints

    @property
    def owned(self) -> bool:
        return False

    def apply_settings(self, settings: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Restart only the components whose settings differ; returns their names."""
        return apply_settings(self._state, settings, self._respawn)

    def restart(self, component: str) -> None:
        """Start a service the profile made the lab start again, recorded settings, same port."""
        self._respawn(component, None)

    def close(self) -> None:
        """Nothing to stop: the stack belongs to ``chaoslab up`` (``chaoslab down`` ends it)."""

    # -- internals ----------------------------------------------------------------------

    def _respawn(self, name: str, settings: Mapping[str, str] | None) -> None:
        self._restarted[name] = respawn(self._state, name, self._save, settings)

    def _save(self, name: str, record: ComponentState) -> None:
        """Write one component's record into the state file as it is on disk now."""
        with state_lock(self.state_dir):
            current = read_state(self.state_dir)
            if current is None:
                raise StackError(
                    f"the stack in {self.state_dir} was brought down while {name} restarted"
                )
            current.components[name] = record
            write_state(current)


def _healthy(state: StackState, patience_s: float = HEALTH_PATIENCE_S) -> bool:
    """Every component answers, allowing a busy one (Bugsink digesting a storm) a few seconds."""
    waiting = dict(state.components)
    deadline = time.monotonic() + patience_s
    while True:
        waiting = {n: r for n, r in waiting.items() if not component_healthy(n, r)}
        if not waiting:
            return True
        dead = [r for r in waiting.values() if r.pid is not None and not pid_alive(r.pid)]
        if dead or time.monotonic() > deadline:
            return False
        time.sleep(0.5)


__all__ = ["AttachedStack"]
