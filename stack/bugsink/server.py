"""Bugsink as a component of the local stack: one gunicorn on 127.0.0.1.

``BugsinkServer(state_dir).start()`` makes sure the venv and the migrated
template are in the cache (building them the first time), copies the template
databases into ``state_dir/data``, writes ``state_dir/bugsink_conf.py``, gives
the copy a fresh API token and runs ``gunicorn --bind 127.0.0.1:PORT
--no-control-socket bugsink.wsgi`` until ``/health/ready`` answers. Every
start begins from the template: events of an earlier run are not kept.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from stack.bugsink.config import base_url, write_config
from stack.bugsink.manage import bugsink_env
from stack.bugsink.progress import Progress, stderr_progress
from stack.bugsink.provisioning import Provisioning, rotate_token
from stack.bugsink.release import BUGSINK_VERSION, COMPONENT
from stack.bugsink.sessions import stop_session
from stack.bugsink.settings import BugsinkSettings
from stack.bugsink.template import ensure_template
from stack.bugsink.venv import ensure_venv
from stack.exceptions import StackStateError
from stack.lifecycle import Lifecycle
from stack.ports import LOOPBACK, free_port
from stack.process import ManagedProcess

HEALTH_PATH = "/health/ready"
LOG_FILE = "bugsink.log"


@dataclass(frozen=True)
class StartTimings:
    """Seconds spent in each phase of :meth:`BugsinkServer.start`."""

    venv_s: float
    template_s: float
    prepare_s: float
    boot_s: float

    @property
    def total_s(self) -> float:
        return self.venv_s + self.template_s + self.prepare_s + self.boot_s


@dataclass(frozen=True)
class _Running:
    process: ManagedProcess
    provisioning: Provisioning
    api_token: str


class BugsinkServer(Lifecycle):
    """A Sentry-compatible backend (Bugsink) on a loopback port."""

    def __init__(
        self,
        state_dir: Path,
        cache_dir: Path | None = None,
        port: int = 0,
        *,
        workers: int | None = None,
        version: str = BUGSINK_VERSION,
        progress: Progress = stderr_progress,
    ) -> None:
        settings = BugsinkSettings()
        self.state_dir = state_dir
        self.cache_dir = cache_dir if cache_dir is not None else settings.resolved_cache_dir()
        self.port = port or free_port()
        self.workers = workers if workers is not None else settings.workers
        self.version = version
        self.progress = progress
        self.timings: StartTimings | None = None
        self._running: _Running | None = None

    # -- what clients need -------------------------------------------------------------------

    @property
    def url(self) -> str:
        return base_url(self.port)

    @property
    def dsn(self) -> str:
        return self._state().provisioning.dsn(self.port)

    @property
    def api_token(self) -> str:
        """Full-access token for ``Authorization: Bearer <token>``, fresh for every start."""
        return self._state().api_token

    @property
    def project_id(self) -> int:
        return self._state().provisioning.project_id

    @property
    def provisioning(self) -> Provisioning:
        """Team, project and admin login (for the web UI) created in the database."""
        return self._state().provisioning

    @property
    def pid(self) -> int:
        return self._state().process.pid

    @property
    def log_path(self) -> Path:
        return self.state_dir / LOG_FILE

    def running(self) -> bool:
        return self._running is not None and self._running.process.running()

    def healthy(self) -> bool:
        """True when ``/health/ready`` answers 200 right now."""
        try:
            response = httpx.get(self.url + HEALTH_PATH, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == httpx.codes.OK

    # -- lifecycle ---------------------------------------------------------------------------

    def start(
        self, timeout: float = 60.0, on_launched: Callable[[], None] | None = None
    ) -> StartTimings:
        """Bring Bugsink up (building the cached venv/template first if needed).

        ``timeout`` bounds the wait for the server to become healthy; the
        one-off venv build and migration have their own, longer limits.
        ``on_launched`` is called once the DSN and token are known and the
        server process is starting, so clients can be configured in parallel
        with its warm-up.
        """
        if self._running is not None:
            raise StackStateError(f"{COMPONENT} is already started on {self.url}")
        t0 = time.monotonic()
        venv = ensure_venv(self.cache_dir, self.version, progress=self.progress)
        t1 = time.monotonic()
        template = ensure_template(venv, self.cache_dir, progress=self.progress)
        t2 = time.monotonic()
        data_dir = self.state_dir / "data"
        template.copy_to(data_dir)
        write_config(venv, self.state_dir, data_dir, self.port)
        token = rotate_token(data_dir, template.provisioning.token_id)
        t3 = time.monotonic()
        argv = venv.module_argv(
            "gunicorn",
            f"--bind={LOOPBACK}:{self.port}",
            "--no-control-socket",
            f"--workers={self.workers}",
            "--graceful-timeout=5",
            "--timeout=60",
            "bugsink.wsgi",
        )
        process = ManagedProcess(
            COMPONENT, argv, self.log_path, env=bugsink_env(self.state_dir), cwd=self.state_dir
        )
        process.start()
        self._running = _Running(process, template.provisioning, token)
        if on_launched is not None:
            on_launched()
        try:
            process.wait_healthy(self.healthy, timeout, interval=0.1)
        except BaseException:
            self.stop()
            raise
        self.timings = StartTimings(t1 - t0, t2 - t1, t3 - t2, time.monotonic() - t3)
        return self.timings

    def stop(self, grace: float = 10.0) -> None:
        """Stop gunicorn (master, then any worker left in its session); idempotent."""
        if self._running is None:
            return
        process = self._running.process
        self._running = None
        if process.popen is None:
            return
        session = process.pid
        process.stop(grace=grace)
        stop_session(session)

    def _state(self) -> _Running:
        if self._running is None:
            raise StackStateError(f"{COMPONENT} is not started")
        return self._running
