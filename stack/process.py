"""Supervised child processes: start, health-gate, stop by PID.

Every component of the local stack is a :class:`ManagedProcess`: it runs in
its own process group with stdout and stderr sent to a log file, becomes
"ready" when a health probe says so, and is stopped by its own PID (SIGTERM,
then SIGKILL after a grace period). Nothing here ever signals a process it did
not start.

A stack that must survive its own ``kill -9`` installs a :class:`SpawnContext`
around the code that starts a component (:func:`spawn_context`):

* every child (a :class:`ManagedProcess` or a short-lived helper started with
  :func:`run`, such as ``initdb`` or ``promtool``) gets the stack's marker in
  its environment (``CHAOSLAB_STACK_ID``), which its own children inherit;
* ``on_spawn`` is called the moment a :class:`ManagedProcess` exists, before
  its health gate, so the stack records its PID and start time at once;
* ``on_scratch`` is called with a scratch directory's path before
  :func:`make_scratch_dir` creates it.

:func:`stop_marked` then finds whatever carries the marker, including a child
whose PID the dead runner had no time to write down.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stack.exceptions import ComponentFailed

HealthProbe = Callable[[], bool]
MARKER_ENV = "CHAOSLAB_STACK_ID"

SpawnHook = Callable[["ManagedProcess", Mapping[str, str]], None]
"""Called with a process just spawned and its environment (settings excluded)."""


@dataclass(frozen=True)
class SpawnContext:
    """What a stack asks of every child process and scratch dir made on its behalf."""

    marker: str | None = None
    on_spawn: SpawnHook | None = None
    on_scratch: Callable[[Path], None] | None = None


_CONTEXT: ContextVar[SpawnContext | None] = ContextVar("chaoslab_spawn", default=None)
_NO_STACK = SpawnContext()


def _current() -> SpawnContext:
    return _CONTEXT.get() or _NO_STACK


@contextlib.contextmanager
def spawn_context(context: SpawnContext) -> Iterator[None]:
    """Apply ``context`` to every spawn in this thread (context) until the block ends."""
    token = _CONTEXT.set(context)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) plus the current stack's marker, if a stack is spawning."""
    merged = dict(os.environ) if env is None else dict(env)
    marker = _current().marker
    if marker is not None:
        merged[MARKER_ENV] = marker
    return merged


def run(argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """:func:`subprocess.run` for a short-lived helper, carrying the stack's marker.

    If the runner dies while the helper runs, ``down`` finds it by the marker.
    """
    kwargs["env"] = child_env(kwargs.get("env"))
    return subprocess.run(list(argv), **kwargs)


def make_scratch_dir(prefix: str) -> Path:
    """A new 0700 directory in the system temp dir, announced to the stack before it exists."""
    path = Path(tempfile.gettempdir()) / f"{prefix}{secrets.token_hex(6)}"
    hook = _current().on_scratch
    if hook is not None:
        hook(path)
    path.mkdir(mode=0o700)
    return path


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file, indented, or a note that it is empty."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "    (no log file)"
    kept = text.rstrip("\n").splitlines()[-lines:]
    if not kept:
        return "    (log is empty)"
    return "\n".join(f"    {line}" for line in kept)


def process_start_time(pid: int) -> int | None:
    """Kernel start time (clock ticks since boot) of ``pid``, None if it is gone.

    Recorded next to a PID so that a later ``down`` can tell the process it
    started from an unrelated one that reused the number.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after it.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def signal_pid(pid: int, start_time: int | None, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` to ``pid`` only if it is still the process recorded.

    Returns False when the process is gone or the PID now belongs to another
    process (its start time differs).
    """
    if not pid_alive(pid):
        return False
    if start_time is not None and process_start_time(pid) != start_time:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
        return True
    return False


def stop_pid(
    pid: int, start_time: int | None, grace: float = 5.0, sig: int = signal.SIGTERM
) -> None:
    """Send ``sig`` (SIGTERM) to the recorded process, then SIGKILL it if it outlives ``grace``."""
    if not signal_pid(pid, start_time, sig):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    signal_pid(pid, start_time, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def marked_processes(marker: str) -> list[tuple[int, int]]:
    """``(pid, start_time)`` of every live process whose environment carries ``marker``.

    The start time is read before and after the environment, so a PID reused
    while we looked is not reported.
    """
    needle = f"{MARKER_ENV}={marker}".encode()
    found: list[tuple[int, int]] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        before = process_start_time(pid)
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if before is None or needle not in environ.split(b"\0"):
            continue
        if process_start_time(pid) == before and pid_alive(pid):
            found.append((pid, before))
    return found


def stop_marked(marker: str, grace: float = 5.0, rounds: int = 5) -> list[int]:
    """Stop every process carrying ``marker`` (SIGTERM, then SIGKILL); returns their PIDs."""
    stopped: list[int] = []
    for _ in range(rounds):
        found = marked_processes(marker)
        if not found:
            break
        for pid, start_time in found:
            signal_pid(pid, start_time, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(pid_alive(pid) for pid, _ in found):
            time.sleep(0.05)
        for pid, start_time in found:
            signal_pid(pid, start_time, signal.SIGKILL)
        stopped += [pid for pid, _ in found]
    return stopped


@dataclass
class ManagedProcess:
    """One child process with a log file and a health probe."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    settings: Mapping[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    start_time: int | None = field(default=None, init=False)

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.popen.pid

    def start(self) -> None:
        """Spawn the process in a new session, output appended to its log.

        The environment is ``env`` (default: ours) plus the stack's marker, with
        ``settings`` on top; the spawn context's ``on_spawn`` hears of the
        process before this returns (if it fails, the process is stopped).
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = list(self.argv)
        base = child_env(self.env)
        env = {**base, **(self.settings or {})}
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
                user=self.user,
                group=None if self.user is None else pwd.getpwnam(self.user).pw_gid,
                extra_groups=None if self.user is None else [],
            )
        self.start_time = process_start_time(self.popen.pid)
        hook = _current().on_spawn
        if hook is not None:
            try:
                hook(self, base)
            except BaseException:
                self.stop()
                raise

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_healthy(self, probe: HealthProbe, timeout: float, interval: float = 0.05) -> float:
        """Poll ``probe`` until it answers True; return seconds waited.

        Raises :class:`ComponentFailed` with the log tail if the process exits
        or the timeout passes first.
        """
        started = time.monotonic()
        deadline = started + timeout
        while True:
            if not self.running():
                code = self.popen.returncode if self.popen is not None else None
                raise self.failure(f"exited with code {code} before it became healthy")
            try:
                if probe():
                    return time.monotonic() - started
            except Exception:  # noqa: S110 - a probe that raises is simply not healthy yet
                pass
            if time.monotonic() > deadline:
                raise self.failure(f"not healthy after {timeout:.0f} s")
            time.sleep(interval)

    def failure(self, reason: str) -> ComponentFailed:
        return ComponentFailed(self.name, reason, list(self.argv), tail(self.log_path))

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the process (and wait for it); idempotent."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(self.stop_signal)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(timeout=5)
        else:
            self.popen.wait()
