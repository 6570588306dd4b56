"""The trace store served in-process: uvicorn on a background thread.

For tests and tools that want a trace store without a child process; the
local stack runs it as a child instead (:class:`TraceStoreProcess`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from stack.exceptions import ComponentFailed
from stack.lifecycle import Lifecycle
from stack.ports import LOOPBACK, free_port
from stack.tracestore.app import create_app
from stack.tracestore.storage import DB_FILENAME, Retention

COMPONENT = "traces"


@dataclass
class TraceStoreServer(Lifecycle):
    """A trace store on ``127.0.0.1:port`` in this process; a context manager."""

    state_dir: Path
    port: int = 0
    retention: Retention | None = None
    startup_timeout: float = 10.0
    _server: uvicorn.Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def db_path(self) -> Path:
        return Path(self.state_dir) / DB_FILENAME

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def otlp_endpoint(self) -> str:
        """The full OTLP/HTTP traces URL (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``)."""
        return f"{self.url}/v1/traces"

    def start(self) -> None:
        """Serve until :meth:`stop`; raises ComponentFailed if it does not come up."""
        if self._thread is not None:
            return
        if self.port == 0:
            self.port = free_port()
        config = uvicorn.Config(
            create_app(self.db_path, self.retention),
            host=LOOPBACK,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name=f"tracestore-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ComponentFailed(
                    COMPONENT,
                    f"in-process server did not start on {LOOPBACK}:{self.port}",
                    ["uvicorn (in-process)", self.url],
                    "    (in-process: see this process's stderr)",
                )
            time.sleep(0.01)

    def stop(self) -> None:
        """Shut the server down (the store writes what is queued first); idempotent."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._server = None
        self._thread = None


__all__ = ["TraceStoreServer"]
