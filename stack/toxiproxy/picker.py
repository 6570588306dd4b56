"""Pick the Toxiproxy to run: the real ``toxiproxy-server`` when on PATH, else the embedded one.

Every choice is a :class:`ToxiproxyHandle`: ``start()``/``stop()``, a context
manager, ``.kind`` (``"real"`` or ``"embedded"``), ``.api_url``, ``.port`` and a
one-line ``.description`` saying what was picked and why.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

from stack.exceptions import BinaryNotFound
from stack.lifecycle import Lifecycle
from stack.ports import LOOPBACK, free_port
from stack.process import ManagedProcess
from stack.toxiproxy.api import VERSION
from stack.toxiproxy.server import EmbeddedToxiproxy

Kind = Literal["real", "embedded"]
Prefer = Literal["auto", "real", "embedded"]
REAL_BINARY = "toxiproxy-server"
INSTALL_HINT = (
    "Install Toxiproxy 2.x from https://github.com/Shopify/toxiproxy/releases, "
    "or use prefer='embedded' (the default 'auto' falls back to it)."
)


class ToxiproxyHandle(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def api_url(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def description(self) -> str: ...

    def start(self, timeout: float = ...) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...

    def __enter__(self) -> ToxiproxyHandle: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def _version_answers(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/version", timeout=1.0) as response:  # noqa: S310 - a loopback http:// URL we built
        return bool(response.status == 200)


class ToxiproxyProcess(Lifecycle):
    """A Toxiproxy server as a child process: the real binary or ``python -m stack.toxiproxy``."""

    def __init__(
        self,
        kind: Kind,
        host: str = LOOPBACK,
        port: int = 0,
        seed: int | None = None,
        config: Path | None = None,
        log_path: Path | None = None,
        binary: str | None = None,
        *,
        proxy_metrics: bool = False,
        runtime_metrics: bool = False,
    ) -> None:
        self.kind = kind
        self.host = host
        self._port = port or free_port(host)
        self.seed = seed
        self.config = config
        self.binary = binary
        self.proxy_metrics = proxy_metrics
        self.runtime_metrics = runtime_metrics
        self.log_path = log_path or Path(tempfile.mkdtemp(prefix="chaoslab-toxiproxy-")) / (
            f"toxiproxy-{kind}.log"
        )
        self.process: ManagedProcess | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self._port}"

    @property
    def description(self) -> str:
        if self.kind == "real":
            what = f"real toxiproxy-server ({self.binary})"
        else:
            what = f"embedded Toxiproxy-compatible server {VERSION} (child process)"
        pid = f", pid {self.process.pid}" if self.process is not None else ""
        return f"{what} at {self.api_url}{pid}"

    def argv(self) -> list[str]:
        if self.kind == "real":
            command = [self.binary or REAL_BINARY]
        else:
            command = [sys.executable, "-m", "stack.toxiproxy"]
        command += ["-host", self.host, "-port", str(self._port)]
        if self.seed is not None:
            command += ["-seed", str(self.seed)]
        if self.config is not None:
            command += ["-config", str(self.config)]
        if self.proxy_metrics:
            command.append("-proxy-metrics")
        if self.runtime_metrics:
            command.append("-runtime-metrics")
        return command

    def start(self, timeout: float = 15.0) -> None:
        if self.process is not None and self.process.running():
            return
        self.process = ManagedProcess(f"toxiproxy-{self.kind}", self.argv(), self.log_path)
        self.process.start()
        try:
            self.process.wait_healthy(lambda: _version_answers(self.api_url), timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        if self.process is not None:
            self.process.stop(grace=timeout)
            self.process = None


def real_binary() -> str | None:
    """Path of ``toxiproxy-server`` on PATH, or None."""
    return shutil.which(REAL_BINARY)


def pick_server(
    host: str = LOOPBACK,
    port: int = 0,
    seed: int | None = None,
    *,
    prefer: Prefer = "auto",
    in_process: bool = True,
    config: Path | None = None,
    log_path: Path | None = None,
    proxy_metrics: bool = False,
    runtime_metrics: bool = False,
) -> ToxiproxyHandle:
    """The real ``toxiproxy-server`` if on PATH (or asked for), else the embedded server.

    The embedded server runs in a background thread (``in_process=True``) or as
    a ``chaoslab-toxiproxy`` child process. ``proxy_metrics`` / ``runtime_metrics``
    turn on ``/metrics`` (``-proxy-metrics`` / ``-runtime-metrics``). Nothing is
    started: call ``start()`` or use the handle as a context manager.
    """
    binary = real_binary()
    if prefer == "real" and binary is None:
        raise BinaryNotFound(REAL_BINARY, INSTALL_HINT)
    if in_process and (binary is None or prefer == "embedded"):
        return EmbeddedToxiproxy(
            host, port, seed, config, proxy_metrics=proxy_metrics, runtime_metrics=runtime_metrics
        )
    kind: Kind = "real" if binary is not None and prefer in ("auto", "real") else "embedded"
    return ToxiproxyProcess(
        kind,
        host,
        port,
        seed,
        config,
        log_path,
        binary=binary if kind == "real" else None,
        proxy_metrics=proxy_metrics,
        runtime_metrics=runtime_metrics,
    )


toxiproxy_server = pick_server
