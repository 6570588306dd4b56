"""Open the stack a scenario run uses: the one ``chaoslab up`` left running, or a new one.

    stack = open_stack(state_dir, fresh=False, profile=profile, settings=settings)
    try:
        run(stack)
    finally:
        stack.close()          # stops it only when this run started it

Without ``fresh`` a healthy stack that ``chaoslab up`` left in ``state_dir`` is
attached to (never stopped by the run); otherwise a :class:`LocalStack` is
started for the run and stopped by ``close()``. A new stack goes into
``state_dir`` itself unless something recorded there is still running (an
``up`` stack, another run's stack, an ``up`` still starting), which is then
left alone: the new stack goes into ``state_dir/fresh/<random>``; so does a
stack for another target profile than the one ``up`` runs. With
``keep`` the new stack is detached (``owned`` False): ``close()`` leaves it up
for ``chaoslab down``. A new stack starts with the scenario's settings; on an
attached one the caller applies them with ``apply_settings``, which says
which components it restarted.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from stack.attached import AttachedStack
from stack.exceptions import StackError, StackStateError
from stack.local import LocalStack, Progress, profile_digest
from stack.process import pid_alive, process_start_time
from stack.profile import TargetProfile
from stack.seam import Stack
from stack.state import StackState, read_state

FRESH_DIR = "fresh"


def open_stack(
    state_dir: Path,
    *,
    fresh: bool,
    keep: bool = False,
    profile: TargetProfile,
    settings: Mapping[str, Mapping[str, str]],
    progress: Progress | None = None,
    seed: int | None = None,
    attach_only: bool = False,
) -> Stack:
    """The stack to run on (see the module doc); ``attach_only`` never starts one."""
    if not fresh:
        attached = AttachedStack.attach(state_dir, profile_digest(profile))
        if attached is not None:
            return attached  # the caller applies the settings (and learns what restarted)
    if attach_only:
        raise StackError(
            f"no healthy stack for target profile {profile.name} is up in {state_dir}; "
            "start one with `chaoslab up`"
        )
    directory = state_dir
    if _something_runs(state_dir):
        directory = state_dir / FRESH_DIR / secrets.token_hex(4)
    stack = LocalStack(
        directory,
        profile=profile,
        settings=settings,
        progress=progress,
        detached=keep,
        seed=seed,
    )
    stack.up()
    return stack


def _something_runs(state_dir: Path) -> bool:
    """Does ``state_dir`` record a live owner or any live component process?"""
    try:
        state = read_state(state_dir.resolve())
    except StackStateError:
        return False
    if state is None:
        return False
    return _owner_alive(state) or any(
        record.pid is not None
        and record.start_time is not None
        and process_start_time(record.pid) == record.start_time
        and pid_alive(record.pid)
        for record in state.components.values()
    )


def _owner_alive(state: StackState) -> bool:
    if state.owner_pid is None:
        return False
    return pid_alive(state.owner_pid) and (
        state.owner_start_time is None
        or process_start_time(state.owner_pid) == state.owner_start_time
    )


__all__ = ["FRESH_DIR", "open_stack"]
