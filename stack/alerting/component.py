"""What the Prometheus, Alertmanager and webhook processes have in common.

Each is a :class:`stack.process.ManagedProcess` on a free 127.0.0.1 port with
its config, data and log under one state directory. A subclass writes and
validates its config in :meth:`LoopbackServer.prepare` and returns the argv;
this base starts it, waits for its health path to answer 200, stops it by PID
and reports what ``chaoslab status`` needs (``url``, ``pid``, ``start_time``,
``healthy()``).
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import httpx

from stack.exceptions import BinaryNotFound, ComponentFailed
from stack.lifecycle import Lifecycle
from stack.ports import LOOPBACK, free_port
from stack.process import ManagedProcess, run

CHECK_TIMEOUT_S = 60.0
# prometheus and promtool come in one Debian package. Here rather than in
# prometheus.py, which imports timescale.py, which needs it for promtool.
PROMETHEUS_INSTALL_HINT = "Install it with: apt-get install prometheus — or run `make run`."


def require_binary(name: str, hint: str) -> str:
    """Absolute path of ``name`` on PATH, or :class:`BinaryNotFound` with ``hint``."""
    found = shutil.which(name)
    if found is None:
        raise BinaryNotFound(name, hint)
    return found


def run_check(component: str, argv: Sequence[str]) -> None:
    """Run a config checker (``promtool``, ``amtool``); a rejection is :class:`ComponentFailed`."""
    result = run(list(argv), capture_output=True, text=True, check=False, timeout=CHECK_TIMEOUT_S)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip() or "(no output)"
        indented = "\n".join(f"    {line}" for line in output.splitlines()[-40:])
        raise ComponentFailed(
            component, f"{Path(argv[0]).name} rejected the generated config", list(argv), indented
        )


class LoopbackServer(Lifecycle, ABC):
    """A supervised child process serving HTTP on ``127.0.0.1:port``."""

    component: ClassVar[str]
    health_path: ClassVar[str] = "/-/ready"

    def __init__(self, state_dir: Path, port: int = 0, startup_timeout: float = 30.0) -> None:
        self.state_dir = Path(state_dir)
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.process: ManagedProcess | None = None

    @property
    def log_path(self) -> Path:
        return self.state_dir / f"{self.component}.log"

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the form Prometheus config files use."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.component} was not started")
        return self.process.pid

    @property
    def start_time(self) -> int | None:
        """Kernel start time of the process (see :func:`stack.process.process_start_time`)."""
        return None if self.process is None else self.process.start_time

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def healthy(self) -> bool:
        """True when the process runs and its health path answers 200."""
        if not self.running():
            return False
        try:
            response = httpx.get(self.url + self.health_path, timeout=1.0)
        except httpx.HTTPError:
            return False
        return response.status_code == httpx.codes.OK

    @abstractmethod
    def prepare(self) -> list[str]:
        """Write and validate the config under ``state_dir``; return the argv to run."""

    def start(self) -> float:
        """Prepare, spawn and wait until healthy; returns seconds waited. Idempotent."""
        if self.running():
            return 0.0
        self.state_dir.mkdir(parents=True, exist_ok=True)
        argv = self.prepare()
        self.process = ManagedProcess(self.component, argv, self.log_path)
        self.process.start()
        try:
            return self.process.wait_healthy(self.healthy, self.startup_timeout)
        except BaseException:
            self.process.stop()
            raise

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process (SIGKILL after ``grace``) and reap it; idempotent."""
        if self.process is not None:
            self.process.stop(grace)
