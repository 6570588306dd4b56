"""One stack for the scenario tests: ``chaoslab up`` once, every run attaches to it.

Under ``make test`` the catalog runs on one worker's stack while the rest of
this package runs on the other's (``tests/xdist_scheduling.py``), so each
worker starts its stack once and the two halves of the slowest part of the
suite run side by side.

Also the helpers every scenario test uses: the CLI as a subprocess, a run
streamed line by line (to act mid-fault), and looks into the stack's
Toxiproxy, fault switches and PostgreSQL sessions.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from stack.process import pid_alive
from stack.state import StackState, read_state

CLI = [sys.executable, "-m", "scenarios.cli"]


@dataclass
class UpStack:
    state_dir: Path

    @property
    def state(self) -> StackState:
        state = read_state(self.state_dir)
        assert state is not None, "the stack is gone"
        return state

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, "--state-dir", str(self.state_dir), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def start_run(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*CLI, "--state-dir", str(self.state_dir), "run", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def pids(self) -> dict[str, int | None]:
        return {name: rec.pid for name, rec in self.state.components.items()}

    def toxics(self, proxy: str) -> list[str]:
        url = f"{self.state.endpoints.toxiproxy_url}/proxies/{proxy}/toxics"
        return [t["name"] for t in httpx.get(url, timeout=5).json()]

    def proxy_enabled(self, proxy: str) -> bool:
        url = f"{self.state.endpoints.toxiproxy_url}/proxies/{proxy}"
        return bool(httpx.get(url, timeout=5).json()["enabled"])

    def switches(self) -> dict[str, Any]:
        ep = self.state.endpoints
        response = httpx.get(
            f"{ep.target_url}/admin/chaos", headers={"X-Chaos-Token": ep.chaos_token}, timeout=5
        )
        return dict(response.json()["switches"])

    def lab_sessions(self) -> int:
        async def count() -> int:
            conn = await asyncpg.connect(self.state.endpoints.postgres_dsn)
            try:
                value: int = await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE application_name LIKE 'chaoslab-fault-%'"
                )
                return value
            finally:
                await conn.close()

        return asyncio.run(count())


def wait_for_line(
    proc: subprocess.Popen[str], needle: str, count: int = 1, timeout: float = 180
) -> list[str]:
    """Read ``proc``'s output until ``needle`` was seen ``count`` times; returns every line read."""
    assert proc.stdout is not None
    seen: list[str] = []
    hits = 0
    deadline = time.monotonic() + timeout
    while hits < count and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        hits += needle in line
    assert hits >= count, f"{needle!r} never appeared:\n" + "".join(seen[-40:])
    return seen


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> str:
    """Wait for a run started with :meth:`UpStack.start_run`; returns the rest of its output."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out or ""


def journal_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "journal.json").read_text())
    return data


def locust_pids(marker: str) -> list[int]:
    """Live Locust processes whose command line mentions ``marker`` (read-only scan)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"locust" in b" ".join(argv) and any(marker.encode() in arg for arg in argv):
            found.append(int(entry.name))
    return [pid for pid in found if pid_alive(pid)]


@pytest.fixture(scope="package")
def up_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpStack]:
    """A stack started with ``chaoslab up`` for every scenario test; ``down`` at the end."""
    stack = UpStack(tmp_path_factory.mktemp("up") / ".chaoslab")
    started = stack.cli("up", timeout=900)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield stack
    finally:
        stack.cli("panic", timeout=120)
        stack.cli("down", timeout=120)
