"""One CSV line per request, for exact per-window statistics in the lab.

Locust's own CSV history holds per-second counts and trailing-window
percentiles, which cannot be recombined into the percentiles of an arbitrary
window. This log keeps every request instead; ``scenarios.load`` reads it.

File: ``<CHAOSLAB_REQUEST_LOG_DIR>/requests-<pid>.csv``, or
``requests-<worker>-<pid>.csv`` for a distributed worker named by
``CHAOSLAB_WORKER`` (one per process that runs users, so workers never share
a file, even remote ones writing to a shared directory), header
``ts,method,name,response_time_ms,ok,status,error``:

``ts``                wall-clock Unix time the request was sent (seconds)
``response_time_ms``  as Locust measured it
``ok``                1 or 0, Locust's verdict (``catch_response`` included)
``status``            HTTP status, 0 when no response arrived
``error``             the exception's class name, empty when ok

Fields never contain commas, quotes or newlines, so a reader can split lines.
Lines are flushed at least every :data:`FLUSH_INTERVAL_S` while requests
flow, and when the test stops, so the file can be tailed for a live view.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import IO, Any

from locust.env import Environment
from locust.runners import MasterRunner

HEADER = "ts,method,name,response_time_ms,ok,status,error\n"
FLUSH_INTERVAL_S = 0.2
UNSAFE = re.compile(r"[,\"\r\n]")


def _clean(text: str) -> str:
    return UNSAFE.sub("_", text)


class RequestLog:
    """Appends a line per request event; flushed on a short interval."""

    def __init__(self, directory: Path, worker: str = "") -> None:
        directory.mkdir(parents=True, exist_ok=True)
        name = f"{worker}-{os.getpid()}" if worker else str(os.getpid())
        self.path = directory / f"requests-{name}.csv"
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")
        self._file.write(HEADER)
        self._file.flush()
        self._flushed_at = time.monotonic()

    def register(self, environment: Environment) -> None:
        # EventHook.add_listener has no type hints upstream (locust 2.47).
        events = environment.events
        events.request.add_listener(self.on_request)  # type: ignore[no-untyped-call]
        events.test_stop.add_listener(self.flush)  # type: ignore[no-untyped-call]
        events.quitting.add_listener(self.close)  # type: ignore[no-untyped-call]

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response: Any = None,  # whatever the client returned: FastResponse, requests.Response...
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: object,
    ) -> None:
        if self._file is None:
            return
        started = start_time if start_time is not None else time.time()
        status = getattr(response, "status_code", None)
        status = status if isinstance(status, int) else 0
        error = "" if exception is None else _clean(type(exception).__name__)
        self._file.write(
            f"{started:.6f},{_clean(request_type)},{_clean(name)},"
            f"{response_time or 0.0:.3f},{0 if exception else 1},{status},{error}\n"
        )
        now = time.monotonic()
        if now - self._flushed_at >= FLUSH_INTERVAL_S:
            self._file.flush()
            self._flushed_at = now

    def flush(self, **_: object) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self, **_: object) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def install(
    environment: Environment, directory: Path | None, worker: str = ""
) -> RequestLog | None:
    """Start a request log in ``directory`` unless none is asked for or this is a master."""
    if directory is None or isinstance(environment.runner, MasterRunner):
        return None
    log = RequestLog(directory, worker)
    log.register(environment)
    return log
