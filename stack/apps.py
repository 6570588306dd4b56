"""The target service and its classifier as uvicorn child processes."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from stack.lifecycle import Lifecycle
from stack.ports import LOOPBACK, free_port
from stack.process import ManagedProcess


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers 2xx."""
    try:
        return httpx.get(url, timeout=timeout).is_success
    except httpx.HTTPError:
        return False


@dataclass
class AppProcess(Lifecycle):
    """One of the lab's uvicorn services (``serve`` = target, ``classifier``).

    ``env`` is added to ours; ``settings`` (a scenario's ``TARGET_*`` or
    ``CLASSIFIER_*`` values) go on top and are recorded apart from it, so a
    stack can tell which settings a running service has.
    """

    service: str
    log_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    port: int = 0
    ready_path: str = "/liveness"
    settings: Mapping[str, str] = field(default_factory=dict)
    process: ManagedProcess | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.port == 0:
            self.port = free_port()

    @property
    def name(self) -> str:
        return "target" if self.service == "serve" else self.service

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30.0) -> float:
        """Start and wait until ``ready_path`` answers 2xx; returns seconds waited."""
        argv = [
            sys.executable,
            "-m",
            "target_app",
            self.service,
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
        ]
        self.process = ManagedProcess(
            self.name,
            argv,
            self.log_dir / f"{self.name}.log",
            env={**os.environ, **self.env},
            settings=self.settings,
        )
        self.process.start()
        try:
            return self.process.wait_healthy(lambda: http_ok(self.url + self.ready_path), timeout)
        except BaseException:
            self.process.stop()
            raise

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def classifier(
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    port: int = 0,
    settings: Mapping[str, str] | None = None,
) -> AppProcess:
    return AppProcess("classifier", log_dir, env or {}, port, settings=settings or {})


def target(
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    port: int = 0,
    settings: Mapping[str, str] | None = None,
) -> AppProcess:
    """The document service; ready once its schema is in place (``/startup``)."""
    return AppProcess(
        "serve", log_dir, env or {}, port, ready_path="/startup", settings=settings or {}
    )
