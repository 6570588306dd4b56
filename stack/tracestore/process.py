"""The trace store as a child process of the local stack.

Runs ``python -m stack.tracestore`` under :class:`stack.process.ManagedProcess`
on a free loopback port, with its SQLite file and log under ``state_dir``,
and waits for ``GET /healthz``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from stack.lifecycle import Lifecycle
from stack.ports import LOOPBACK, free_port
from stack.process import ManagedProcess
from stack.tracestore.storage import DB_FILENAME, Retention

COMPONENT = "traces"
LOG_FILENAME = "tracestore.log"


@dataclass
class TraceStoreProcess(Lifecycle):
    """``python -m stack.tracestore`` as a supervised child; a context manager."""

    state_dir: Path
    port: int = 0
    retention: Retention = field(default_factory=Retention)
    startup_timeout: float = 20.0
    python: str = sys.executable
    process: ManagedProcess | None = field(default=None, init=False)

    @property
    def db_path(self) -> Path:
        return Path(self.state_dir) / DB_FILENAME

    @property
    def log_path(self) -> Path:
        return Path(self.state_dir) / LOG_FILENAME

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def otlp_endpoint(self) -> str:
        """The full OTLP/HTTP traces URL (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)."""
        return f"{self.url}/v1/traces"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{COMPONENT} was not started")
        return self.process.pid

    def argv(self) -> list[str]:
        argv = [
            self.python, "-m", "stack.tracestore",
            "--host", LOOPBACK,
            "--port", str(self.port),
            "--db", str(self.db_path),
            "--max-spans", str(self.retention.max_spans),
        ]  # fmt: skip
        if self.retention.max_age_s is not None:
            argv += ["--max-age", str(self.retention.max_age_s)]
        return argv

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == httpx.codes.OK
        except httpx.HTTPError:
            return False

    def start(self) -> float:
        """Spawn the store and wait until it is healthy; returns seconds waited."""
        if self.process is not None and self.process.running():
            return 0.0
        if self.port == 0:
            self.port = free_port()
        Path(self.state_dir).mkdir(parents=True, exist_ok=True)
        self.process = ManagedProcess(COMPONENT, self.argv(), self.log_path)
        self.process.start()
        try:
            return self.process.wait_healthy(self.healthy, self.startup_timeout)
        except BaseException:
            self.process.stop()
            raise

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the child (it writes what is queued, then exits); idempotent."""
        if self.process is not None:
            self.process.stop(grace)


__all__ = ["TraceStoreProcess"]
