"""The ``Stack`` seam: what a scenario run needs of a stack, whoever started it.

Met by a :class:`~stack.local.LocalStack` started for one run (``owned``: the
run stops it), by an :class:`~stack.attached.AttachedStack` that ``chaoslab
up`` left running (never stopped by a run), and later by the compose stack.

    stack = open_stack(state_dir, fresh=False, settings=settings)
    try:
        run(stack)
    finally:
        stack.close()          # stops it only when ``owned``
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from stack.state import Endpoints, StackState


@runtime_checkable
class Stack(Protocol):
    """A running stack a scenario can load, break and observe."""

    @property
    def state(self) -> StackState:
        """What ``stack.json`` records (components, endpoints)."""
        ...

    @property
    def endpoints(self) -> Endpoints: ...

    @property
    def owned(self) -> bool:
        """True when this run started the stack and stops it on :meth:`close`."""
        ...

    def apply_settings(self, settings: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Make the services the profile starts run with these settings (component → env).

        Restarts only the components whose settings differ from what they run
        with now; returns the names of those restarted (empty when none was).
        """
        ...

    def restart(self, component: str) -> None:
        """Start a service the profile starts (``target``, a dependency) again, same port."""
        ...

    def close(self) -> None:
        """End this run's use of the stack: stop it when ``owned``, else leave it running."""
        ...
