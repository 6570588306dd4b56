"""The embedded Toxiproxy-compatible server: on an event loop, or in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path

from stack.lifecycle import Lifecycle
from stack.ports import LOOPBACK
from stack.toxiproxy.api import VERSION, ToxiproxyApi
from stack.toxiproxy.collection import ProxyCollection
from stack.toxiproxy.exceptions import ServerNotRunning
from stack.toxiproxy.httpserver import serve_connection
from stack.toxiproxy.metrics import Metrics

log = logging.getLogger("stack.toxiproxy")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed (it is in the lab), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency of the lab
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


class ToxiproxyServer:
    """API listener plus proxies, running on the current event loop.

    ``metrics`` says which metrics ``/metrics`` serves (``-proxy-metrics``,
    ``-runtime-metrics``); without any, ``/metrics`` is a 404 as in Toxiproxy.
    """

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        seed: int | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.seed = seed
        self.metrics = metrics or Metrics()
        self.collection = ProxyCollection(seed, self.metrics.proxy)
        self.api = ToxiproxyApi(self.collection, self.metrics)
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    @property
    def api_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            await serve_connection(reader, writer, self.api)
        finally:
            self._clients.discard(writer)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._client, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("Starting Toxiproxy HTTP server version=%s address=%s", VERSION, self.api_url)

    async def load_config(self, path: Path) -> None:
        """Populate from a JSON file like ``toxiproxy-server -config``: errors are logged."""
        try:
            body = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            log.error("Error reading config file config=%s error=%s", path, exc)
            return
        proxies, error = await self.collection.populate(body)
        if error is not None:
            log.error("Failed to populate proxies from file: %s", error.message)
            return
        log.info("Populated proxies from file config=%s proxies=%d", path, len(proxies))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._clients):
            writer.close()
        await self.collection.clear()


class EmbeddedToxiproxy(Lifecycle):
    """The embedded server on its own event loop in a daemon thread.

    ``start()`` returns once the API listens; ``port=0`` picks a free port,
    read back from :attr:`port` / :attr:`api_url`. ``proxy_metrics`` and
    ``runtime_metrics`` are the server's ``-proxy-metrics`` / ``-runtime-metrics``.
    Also a context manager.
    """

    kind = "embedded"

    def __init__(
        self,
        host: str = LOOPBACK,
        port: int = 0,
        seed: int | None = None,
        config: Path | None = None,
        *,
        proxy_metrics: bool = False,
        runtime_metrics: bool = False,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.seed = seed
        self.config = config
        self.proxy_metrics = proxy_metrics
        self.runtime_metrics = runtime_metrics
        self.server: ToxiproxyServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        if self.server is None:
            raise ServerNotRunning("the embedded Toxiproxy is not running")
        return self.server.port

    @property
    def api_url(self) -> str:
        if self.server is None:
            raise ServerNotRunning("the embedded Toxiproxy is not running")
        return self.server.api_url

    @property
    def description(self) -> str:
        where = self.api_url if self.server is not None else "(stopped)"
        return f"embedded Toxiproxy-compatible server {VERSION} (in-process thread) at {where}"

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            return
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="toxiproxy-embedded", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ServerNotRunning(f"the embedded Toxiproxy did not start within {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            self._thread = None
            self.server = None
            raise ServerNotRunning(f"the embedded Toxiproxy failed to start: {self._error}")

    def _run(self) -> None:
        loop = new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        metrics = Metrics(self.proxy_metrics, self.runtime_metrics)
        server = ToxiproxyServer(self.host, self.requested_port, self.seed, metrics)
        try:
            loop.run_until_complete(server.start())
            if self.config is not None:
                loop.run_until_complete(server.load_config(self.config))
        except BaseException as exc:  # reported to the starting thread, which raises it
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self.server = server
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(server.stop())
            _cancel_all(loop)
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop, close every proxy and connection, join the thread; idempotent."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = None
        self._loop = None
        self.server = None


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
