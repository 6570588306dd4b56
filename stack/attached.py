"""A run attached to the local stack that ``chaoslab up`` left running.

    stack = AttachedStack.attach(Path(".chaoslab"))
    if stack is not None:
        stack.apply_target_settings({"TARGET_POOL_MAX": "10"}, {})
        ...
        stack.close()               # leaves every process running

It knows the stack only through ``stack.json``: to restart an app component
it did not spawn it uses the recorded argv, cwd, environment and settings
(:mod:`stack.respawn`); the new process runs in its own session, outlives
this one, and is written to ``stack.json`` (under the state dir's lock) the
moment it is spawned, so ``chaoslab down`` stops it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from stack.exceptions import StackError, StackStateError
from stack.local import COMPONENTS, component_healthy
from stack.process import ManagedProcess
from stack.respawn import apply_settings, respawn
from stack.state import ComponentState, Endpoints, StackState, read_state, state_lock, write_state


class AttachedStack:
    """A healthy, detached local stack this process did not start; never stopped by it."""

    def __init__(self, state: StackState) -> None:
        self._state = state
        self.state_dir = Path(state.state_dir)
        self._restarted: dict[str, ManagedProcess] = {}

    @classmethod
    def attach(cls, state_dir: Path) -> AttachedStack | None:
        """The stack recorded in ``state_dir`` if complete, detached and healthy, else None."""
        try:
            state = read_state(state_dir.resolve())
        except StackStateError:
            return None
        if state is None or not state.complete or state.owner_pid is not None:
            return None
        if set(COMPONENTS) - set(state.components):
            return None
        if not all(component_healthy(name, rec) for name, rec in state.components.items()):
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

    def apply_target_settings(
        self, target_env: Mapping[str, str], classifier_env: Mapping[str, str]
    ) -> list[str]:
        """Restart only the app components whose settings differ; returns their names."""
        return apply_settings(self._state, target_env, classifier_env, self._respawn)

    def restart(self, component: str) -> None:
        """Start ``target`` or ``classifier`` again with its recorded settings, same port."""
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


__all__ = ["AttachedStack"]
