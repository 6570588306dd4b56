"""Starting and stopping Toxiproxy: picker, embedded thread, CLI process, config file, seed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.exceptions import BinaryNotFound
from stack.ports import LOOPBACK, free_port, is_listening
from stack.toxiproxy import (
    VERSION,
    EmbeddedToxiproxy,
    ServerNotRunning,
    ToxiproxyHandle,
    ToxiproxyProcess,
    pick_server,
    real_binary,
)

# Rewrite the support module's asserts too: register it before it is imported.
pytest.register_assert_rewrite("tests.integration.toxiproxy_support")
from tests.integration.toxiproxy_support import Upstream, connect, round_trip  # noqa: E402 - imported after register_assert_rewrite on purpose

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def echo() -> Iterator[Upstream]:
    upstream = Upstream("echo")
    yield upstream
    upstream.close()


def test_pick_server_says_what_it_picked() -> None:
    handle = pick_server()
    expected = "real" if real_binary() is not None else "embedded"
    assert handle.kind == expected
    with handle:
        port = handle.port
        assert expected in handle.description
        assert handle.api_url.endswith(f":{port}")
        assert httpx.get(f"{handle.api_url}/version").status_code == 200
    assert not is_listening(port)


def test_prefer_real_needs_the_binary() -> None:
    if real_binary() is None:
        with pytest.raises(BinaryNotFound, match="toxiproxy-server"):
            pick_server(prefer="real")
    else:
        assert pick_server(prefer="real").kind == "real"


def test_embedded_thread_lifecycle() -> None:
    tp = EmbeddedToxiproxy(port=0)
    with pytest.raises(ServerNotRunning):
        _ = tp.api_url
    tp.start()
    port = tp.port
    assert port > 0
    assert is_listening(port)
    assert "in-process" in tp.description
    tp.stop()
    tp.stop()  # idempotent
    assert not is_listening(port)


def test_embedded_thread_port_in_use_fails_cleanly() -> None:
    with EmbeddedToxiproxy() as first, pytest.raises(ServerNotRunning, match="failed to start"):
        EmbeddedToxiproxy(port=first.port).start()


def test_embedded_process_and_clean_sigterm(tmp_path: Path) -> None:
    handle = pick_server(prefer="embedded", in_process=False, log_path=tmp_path / "tp.log")
    assert isinstance(handle, ToxiproxyProcess)
    assert handle.kind == "embedded"
    handle.start()
    assert handle.process is not None
    popen = handle.process.popen
    assert popen is not None
    assert "child process" in handle.description
    assert f"pid {popen.pid}" in handle.description
    response = httpx.get(f"{handle.api_url}/version")
    assert response.json() == {"version": VERSION}
    handle.stop()
    assert popen.returncode == 0, "SIGTERM is a clean shutdown"
    assert "Shutdown finished" in (tmp_path / "tp.log").read_text()


def test_cli_config_file_and_sigint(tmp_path: Path, echo: Upstream) -> None:
    listen_port = free_port()
    config = tmp_path / "toxiproxy.json"
    entry = {
        "name": "echo",
        "listen": f"{LOOPBACK}:{listen_port}",
        "upstream": f"{LOOPBACK}:{echo.port}",
    }
    config.write_text(json.dumps([entry]))
    handle = ToxiproxyProcess("embedded", config=config, log_path=tmp_path / "tp.log")
    handle.start()
    try:
        proxies = httpx.get(f"{handle.api_url}/proxies").json()
        assert proxies["echo"]["listen"] == f"{LOOPBACK}:{listen_port}"
        with connect(listen_port) as sock:
            assert round_trip(sock) < 1.0
        assert handle.process is not None
        popen = handle.process.popen
        assert popen is not None
        popen.send_signal(signal.SIGINT)
        assert popen.wait(timeout=10) == 0
    finally:
        handle.stop()
    assert not is_listening(listen_port)


@pytest.mark.parametrize("flag", ["--version", "-version"])
def test_cli_version_flag(flag: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "stack.toxiproxy.cli", flag],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert out.stdout.strip() == f"toxiproxy-server version {VERSION}"


def _toxicity_pattern(handle: ToxiproxyHandle, echo: Upstream, connections: int = 6) -> list[bool]:
    """Which of ``connections`` sequential connections a 50 % latency toxic hit."""
    with httpx.Client(base_url=handle.api_url) as http:
        body = {"name": "echo", "listen": f"{LOOPBACK}:0", "upstream": f"{LOOPBACK}:{echo.port}"}
        port = int(http.post("/proxies", json=body).json()["listen"].rsplit(":", 1)[1])
        toxic = {"type": "latency", "toxicity": 0.5, "attributes": {"latency": 250}}
        assert http.post("/proxies/echo/toxics", json=toxic).status_code == 200
    pattern = []
    for _ in range(connections):
        with connect(port) as sock:
            pattern.append(round_trip(sock) > 0.150)
    return pattern


def test_seed_makes_toxicity_rolls_reproducible(echo: Upstream, tmp_path: Path) -> None:
    with EmbeddedToxiproxy(seed=7) as first:
        in_thread = _toxicity_pattern(first, echo)
    with ToxiproxyProcess("embedded", seed=7, log_path=tmp_path / "tp.log") as second:
        in_process = _toxicity_pattern(second, echo)
    assert in_thread == in_process, "same seed, same rolls, across runs and processes"
    assert True in in_thread
    assert False in in_thread, "toxicity 0.5 hits some connections and spares others"
