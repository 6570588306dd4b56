"""A service the lab starts from a target profile: the target or a dependency it needs.

Nothing here knows which service it is: the command line, working folder,
environment and health path come from the profile (placeholders already
filled in), so the bundled document service and a team's own service start
the same way.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from stack.lifecycle import Lifecycle
from stack.ports import LOOPBACK, free_port
from stack.process import ManagedProcess

START_TIMEOUT_S = 60.0


def http_ok(url: str, timeout: float = 1.0) -> bool:
    """True when ``url`` answers 2xx."""
    try:
        return httpx.get(url, timeout=timeout).is_success
    except httpx.HTTPError:
        return False


@dataclass
class ServiceProcess(Lifecycle):
    """One service as a child process, healthy once ``ready_path`` answers 2xx.

    ``env`` is added to ours; ``settings`` (a scenario's values of the
    profile's settings) go on top and are recorded apart from it, so a stack
    can tell which settings a running service has.
    """

    name: str
    argv: Sequence[str]
    log_dir: Path
    port: int
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_path: str | None = "/healthz"
    settings: Mapping[str, str] = field(default_factory=dict)
    process: ManagedProcess | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = START_TIMEOUT_S) -> float:
        """Start and wait until it is healthy; returns seconds waited."""
        self.process = ManagedProcess(
            self.name,
            list(self.argv),
            self.log_dir / f"{self.name}.log",
            env={**os.environ, **self.env},
            cwd=self.cwd,
            settings=self.settings,
        )
        self.process.start()
        try:
            return self.process.wait_healthy(self._healthy, timeout)
        except BaseException:
            self.process.stop()
            raise

    def _healthy(self) -> bool:
        if self.ready_path is not None:
            return http_ok(self.url + self.ready_path)
        return port_open(self.url)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


AppProcess = ServiceProcess
"""The older name, kept for the tests and tools that start one service alone."""


def _bundled(
    component: str,
    log_dir: Path,
    env: Mapping[str, str] | None,
    port: int,
    settings: Mapping[str, str] | None,
) -> ServiceProcess:
    """A service of the bundled profile started alone (no stack): tests, ``make dev``."""
    from stack.profile import TARGET_COMPONENT, default_profile, fill

    profile = default_profile()
    port = port or free_port()
    values = {"python": sys.executable, "host": LOOPBACK, "port": str(port)}
    ready: str | None
    if component == TARGET_COMPONENT:
        command, ready = profile.command or [], profile.health.ready
    else:
        dep = next(d for n, d in profile.dependencies.items() if d.component == component)
        command, ready = dep.command or [], dep.health
    return ServiceProcess(
        component,
        [fill(arg, values) for arg in command],
        log_dir,
        port,
        env=dict(env or {}),
        ready_path=ready,
        settings=dict(settings or {}),
    )


def target(
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    port: int = 0,
    settings: Mapping[str, str] | None = None,
) -> ServiceProcess:
    """The bundled document service alone, ready once its schema is in place."""
    return _bundled("target", log_dir, env, port, settings)


def classifier(
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    port: int = 0,
    settings: Mapping[str, str] | None = None,
) -> ServiceProcess:
    """The bundled document service's downstream classifier alone."""
    return _bundled("classifier", log_dir, env, port, settings)


def port_open(url: str) -> bool:
    """True when the ``host:port`` of ``url`` accepts a TCP connection."""
    host, _, port = url.split("://", 1)[-1].split("/", 1)[0].rpartition(":")
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, int(port))) == 0


__all__ = ["AppProcess", "ServiceProcess", "classifier", "http_ok", "port_open", "target"]
