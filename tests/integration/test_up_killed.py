"""``kill -9`` of ``chaoslab up`` at any point of start-up, then ``chaoslab down``, leaves nothing.

Every process is recorded in ``stack.json`` the moment it is spawned and every
scratch dir before it is created; what the dead ``up`` had no time to record
carries the stack's spawn marker. The checks here only read ``/proc``: they
never signal anything they find.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from stack.exceptions import StackStateError
from stack.ports import is_listening
from stack.process import MARKER_ENV, pid_alive, process_start_time
from stack.state import StackState, read_state

pytestmark = pytest.mark.integration

UP_TIMEOUT_S = 240.0


def recorded(state_dir: Path) -> StackState | None:
    try:
        return read_state(state_dir)
    except StackStateError:
        return None


def component_count(state_dir: Path) -> int:
    state = recorded(state_dir)
    return 0 if state is None else len(state.components)


def ports_of(state: StackState) -> list[int]:
    ports = [urlsplit(record.url).port for record in state.components.values() if record.url]
    ports += [int(listen.rsplit(":", 1)[1]) for listen in state.endpoints.proxies.values()]
    return [port for port in ports if port is not None]


def processes_referencing(needles: list[str]) -> list[str]:
    """``pid: cmdline`` of live processes whose command line or environment holds a needle."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if not pid_alive(int(entry.name)):
            continue
        if any(needle in cmdline or needle in environ.split("\0") for needle in needles):
            found.append(f"{entry.name}: {cmdline.strip()}")
    return found


def kill_up_when(state_dir: Path, log: Path, ready: Callable[[], bool]) -> StackState | None:
    """Start ``chaoslab up``, SIGKILL it once ``ready()`` holds; return what it recorded."""
    with log.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "scenarios.cli", "--state-dir", str(state_dir), "up"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + UP_TIMEOUT_S
        while not ready():
            assert up.poll() is None, f"up exited first ({up.returncode}):\n{log.read_text()}"
            assert time.monotonic() < deadline, f"up never got there:\n{log.read_text()}"
            time.sleep(0.01)
    finally:
        up.kill()
        up.wait()
    return recorded(state_dir)


def after_seconds(seconds: float) -> Callable[[], bool]:
    deadline = time.monotonic() + seconds
    return lambda: time.monotonic() >= deadline


POINTS: dict[str, Callable[[Path], Callable[[], bool]]] = {
    "early-0.3s": lambda _state_dir: after_seconds(0.3),
    "first-component": lambda state_dir: lambda: component_count(state_dir) >= 1,
    "mid-3-components": lambda state_dir: lambda: component_count(state_dir) >= 3,
    "late-7-components": lambda state_dir: lambda: component_count(state_dir) >= 7,
    # Blind instants: whatever happens to be starting then.
    "after-1.5s": lambda _state_dir: after_seconds(1.5),
    "after-3s": lambda _state_dir: after_seconds(3.0),
}


@pytest.mark.parametrize("point", list(POINTS))
def test_down_after_up_was_killed_leaves_nothing(tmp_path: Path, point: str) -> None:
    state_dir = (tmp_path / ".chaoslab").resolve()
    state = kill_up_when(state_dir, tmp_path / "up.log", POINTS[point](state_dir))

    down = subprocess.run(
        [sys.executable, "-m", "scenarios.cli", "--state-dir", str(state_dir), "down"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert down.returncode == 0, down.stdout + down.stderr
    assert read_state(state_dir) is None

    needles = [str(state_dir)]
    if state is not None:
        alive = [
            f"{name} (pid {record.pid})"
            for name, record in state.components.items()
            if record.pid is not None
            and pid_alive(record.pid)
            and process_start_time(record.pid) == record.start_time
        ]
        assert alive == [], f"killed at {point}: still running after down: {alive}"
        listening = [port for port in ports_of(state) if is_listening(port)]
        assert listening == [], f"killed at {point}: ports still listening: {listening}"
        left = [d for d in state.scratch_dirs if Path(d).exists()]
        assert left == [], f"killed at {point}: PostgreSQL cluster dirs left: {left}"
        needles += state.scratch_dirs
        if state.spawn_marker is not None:
            needles.append(f"{MARKER_ENV}={state.spawn_marker}")
    leftovers = processes_referencing(needles)
    assert leftovers == [], f"killed at {point}: processes of the stack left: {leftovers}"
