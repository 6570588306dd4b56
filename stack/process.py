"""Supervised child processes: start, health-gate, stop by PID.

Every component of the local stack is a :class:`ManagedProcess`: it runs in
its own process group with stdout and stderr sent to a log file, becomes
"ready" when a health probe says so, and is stopped by its own PID (SIGTERM,
then SIGKILL after a grace period). Nothing here ever signals a process it did
not start.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stack.exceptions import ComponentFailed

HealthProbe = Callable[[], bool]


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


def stop_pid(pid: int, start_time: int | None, grace: float = 5.0) -> None:
    """SIGTERM the recorded process, then SIGKILL it if it outlives ``grace``."""
    if not signal_pid(pid, start_time, signal.SIGTERM):
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
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    start_time: int | None = field(default=None, init=False)

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} was not started")
        return self.popen.pid

    def start(self) -> None:
        """Spawn the process in a new session, output appended to its log."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = list(self.argv)
        env = dict(os.environ) if self.env is None else dict(self.env)
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
