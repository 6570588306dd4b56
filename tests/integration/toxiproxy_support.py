"""Shared pieces of the Toxiproxy conformance suite: servers under test and TCP upstreams.

Every conformance test runs against each :data:`SERVER_KINDS` entry: the
embedded server in-process (thread), the embedded server as a separate
``python -m stack.toxiproxy`` process, and the real ``toxiproxy-server`` when it
is on PATH. Test modules import the fixtures from here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from stack.ports import LOOPBACK
from stack.toxiproxy import EmbeddedToxiproxy, ToxiproxyHandle, ToxiproxyProcess, real_binary

REAL_BINARY = real_binary()
SERVER_KINDS = [
    pytest.param("embedded-thread", id="embedded-thread"),
    pytest.param("embedded-process", id="embedded-process"),
    pytest.param(
        "real",
        id="real",
        marks=pytest.mark.skipif(
            REAL_BINARY is None,
            reason="toxiproxy-server (the Go binary) is not on PATH; only the embedded server runs",
        ),
    ),
]


def start_server(kind: str, seed: int | None = None) -> ToxiproxyHandle:
    handle: ToxiproxyHandle
    if kind == "embedded-thread":
        handle = EmbeddedToxiproxy(seed=seed)
    elif kind == "embedded-process":
        handle = ToxiproxyProcess("embedded", seed=seed)
    else:
        handle = ToxiproxyProcess("real", seed=seed, binary=REAL_BINARY)
    handle.start()
    return handle


@dataclass
class ServerUnderTest:
    """A running Toxiproxy (any kind) plus an httpx client on its API."""

    kind: str
    handle: ToxiproxyHandle
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.handle.api_url, timeout=10)

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        return self.handle.port

    def create_proxy(self, name: str, upstream_port: int) -> int:
        """Create a proxy listening on a free port; return that port."""
        body = {"name": name, "listen": f"{LOOPBACK}:0", "upstream": f"{LOOPBACK}:{upstream_port}"}
        response = self.http.post("/proxies", json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["listen"].rsplit(":", 1)[1])

    def add_toxic(
        self,
        proxy: str,
        type_: str,
        attributes: dict[str, int],
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
    ) -> dict[str, object]:
        body: dict[str, object] = {
            "type": type_,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes,
        }
        if name is not None:
            body["name"] = name
        response = self.http.post(f"/proxies/{proxy}/toxics", json=body)
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result

    def remove_toxic(self, proxy: str, name: str) -> None:
        response = self.http.delete(f"/proxies/{proxy}/toxics/{name}")
        assert response.status_code == 204, response.text

    def clear(self) -> None:
        for name in self.http.get("/proxies").json():
            self.http.delete(f"/proxies/{name}")

    def close(self) -> None:
        self.http.close()
        self.handle.stop()


@pytest.fixture(scope="module", params=SERVER_KINDS)
def server(request: pytest.FixtureRequest) -> Iterator[ServerUnderTest]:
    sut = ServerUnderTest(request.param, start_server(request.param))
    try:
        yield sut
    finally:
        sut.close()


@pytest.fixture
def toxiproxy(server: ServerUnderTest) -> Iterator[ServerUnderTest]:
    """The module's server, emptied after each test."""
    yield server
    server.clear()


class Upstream:
    """A threaded TCP server on loopback: ``echo`` or ``source`` (send N bytes, close).

    ``source`` reads a decimal byte count ending in a newline, sends that many
    bytes and closes the connection.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            target = self._echo if self.mode == "echo" else self._source
            threading.Thread(target=target, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(65536):
                    conn.sendall(data)
            except OSError:
                return

    @staticmethod
    def _source(conn: socket.socket) -> None:
        with conn:
            try:
                request = b""
                while not request.endswith(b"\n"):
                    piece = conn.recv(64)
                    if not piece:
                        return
                    request += piece
                conn.sendall(b"x" * int(request))
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def echo_upstream() -> Iterator[Upstream]:
    upstream = Upstream("echo")
    yield upstream
    upstream.close()


@pytest.fixture(scope="module")
def source_upstream() -> Iterator[Upstream]:
    upstream = Upstream("source")
    yield upstream
    upstream.close()


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> float:
    """Seconds to send ``payload`` and read it back in full."""
    started = time.perf_counter()
    sock.sendall(payload)
    assert recv_exactly(sock, len(payload)) == payload
    return time.perf_counter() - started


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = sock.recv(size - len(data))
        if not piece:
            break
        data += piece
    return data


def recv_until_closed(sock: socket.socket) -> tuple[bytes, int]:
    """All bytes until EOF and how many recv() calls returned data."""
    data = b""
    reads = 0
    while piece := sock.recv(65536):
        data += piece
        reads += 1
    return data, reads


def wait_until(predicate: object, timeout: float = 5.0) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False
