"""Bugsink start/stop/restart from the cached template, and how it fails."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from stack.bugsink import BugsinkServer, BugsinkSettings, ensure_template, ensure_venv
from stack.bugsink.sessions import session_members
from stack.exceptions import ComponentFailed, StackStateError
from stack.ports import LOOPBACK, free_port, is_listening
from stack.process import pid_alive

pytestmark = pytest.mark.integration

CACHE = BugsinkSettings().resolved_cache_dir()  # stable, so later runs reuse the venv


def assert_gone(pid: int, port: int) -> None:
    assert not pid_alive(pid), f"gunicorn master {pid} still alive"
    assert session_members(pid) == [], "gunicorn workers left behind"
    assert not is_listening(port), f"something still listens on {port}"


def projects_status(server: BugsinkServer, token: str) -> int:
    response = httpx.get(
        f"{server.url}/api/canonical/0/projects/",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    return response.status_code


def test_start_stop_start_again_from_the_template(tmp_path: Path) -> None:
    server = BugsinkServer(tmp_path / "state", cache_dir=CACHE)
    with pytest.raises(StackStateError):
        _ = server.api_token

    first = server.start()
    first_pid, first_token = server.pid, server.api_token
    assert server.healthy()
    assert projects_status(server, first_token) == httpx.codes.OK
    assert session_members(first_pid), "gunicorn runs in its own session"
    server.stop()
    assert_gone(first_pid, server.port)
    assert not server.healthy()
    server.stop()  # idempotent

    second = server.start()
    try:
        print(
            f"\nfirst start {first.total_s:.2f} s ({first})"
            f"\nsecond start {second.total_s:.2f} s ({second})"
        )
        assert server.pid != first_pid
        assert server.healthy()
        assert server.api_token != first_token, "every start gets a fresh token"
        assert projects_status(server, server.api_token) == httpx.codes.OK
        assert projects_status(server, first_token) in {401, 403}
        with pytest.raises(StackStateError):
            server.start()
    finally:
        second_pid = server.pid
        server.stop()
    assert_gone(second_pid, server.port)


def test_context_manager_stops_on_error(tmp_path: Path) -> None:
    server = BugsinkServer(tmp_path / "state", cache_dir=CACHE)
    seen: list[int] = []

    def crash_inside() -> None:
        with server:
            seen.append(server.pid)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        crash_inside()
    assert len(seen) == 1
    assert not server.running()
    assert_gone(seen[0], server.port)


def test_busy_port_fails_naming_component_command_and_log(tmp_path: Path) -> None:
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind((LOOPBACK, port))
        squatter.listen()
        server = BugsinkServer(tmp_path / "state", cache_dir=CACHE, port=port)
        started = time.monotonic()
        with pytest.raises(ComponentFailed) as caught:
            server.start(timeout=30)
        elapsed = time.monotonic() - started
    failure = caught.value
    assert failure.component == "bugsink"
    assert f"--bind={LOOPBACK}:{port}" in failure.argv
    assert "--no-control-socket" in failure.argv
    assert "Connection in use" in failure.log_tail
    assert "bugsink failed" in str(failure)
    assert not server.running()
    print(f"\nbusy port detected in {elapsed:.1f} s")


def test_cached_venv_and_template_are_reused_quietly() -> None:
    built: list[str] = []
    venv = ensure_venv(CACHE, progress=built.append)  # builds only on a cold cache
    template = ensure_template(venv, CACHE, progress=built.append)
    said: list[str] = []
    again = ensure_venv(CACHE, progress=said.append)
    template_again = ensure_template(again, CACHE, progress=said.append)
    assert said == [], "a cached venv/template must be reused, not rebuilt"
    assert again == venv
    assert template_again == template
    assert venv.python.is_file()
    assert (template.root / "db.sqlite3").is_file()
    assert template.provisioning.project_id >= 1
