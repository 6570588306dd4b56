"""SIGINT in the middle of a fault: every fault is rolled back and the journal says aborted."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from stack.process import pid_alive
from stack.state import read_state

pytestmark = pytest.mark.integration

SCENARIO = textwrap.dedent(
    """\
    name: interrupted
    title: Three faults at once, interrupted
    load: {users: 5, spawn_rate: 5, duration: 90s}
    faults:
      - {id: slow-link, kind: toxic, target: postgres, toxic: latency,
         attributes: {latency: 20}, at: 3s, duration: 80s}
      - {id: migration-lock, kind: db_lock, table: documents, mode: SHARE, at: 3s, duration: 80s}
      - {id: buggy, kind: app, switches: {exception_rate: 0.2}, at: 3s, duration: 80s}
    expectations:
      - {id: storm, kind: alert, alert: ExceptionStorm, window: {fault: buggy, within: 80s}}
    """
)


def locust_processes(marker: str) -> list[int]:
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


def fault_sessions(dsn: str) -> int:
    async def count() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            value: int = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name LIKE 'chaoslab-fault%'"
            )
            return value
        finally:
            await conn.close()

    return asyncio.run(count())


def test_sigint_mid_fault_rolls_everything_back(tmp_path: Path) -> None:
    scenario = tmp_path / "interrupted.yaml"
    scenario.write_text(SCENARIO)
    state_dir = tmp_path / ".chaoslab"
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "scenarios.cli", "--state-dir", str(state_dir)]
    proc = subprocess.Popen(
        [*cli, "run", str(scenario), "--out", str(out), "--keep-stack"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        started: list[str] = []
        deadline = time.monotonic() + 120
        while len(started) < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if "start fault" in line:
                started.append(line)
        assert len(started) == 3, "the three faults never started"
        state = read_state(state_dir)
        assert state is not None
        ep = state.endpoints
        toxics = httpx.get(f"{ep.toxiproxy_url}/proxies/postgres/toxics").json()
        assert [t["name"] for t in toxics] == ["chaoslab-slow-link"]
        assert fault_sessions(ep.postgres_dsn) == 1

        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    try:
        assert proc.returncode == 3
        journal = json.loads((out / "journal.json").read_text())
        assert journal["status"] == "aborted"
        assert journal["error"] == "run aborted by SIGINT"
        assert len(journal["rolled_back"]) == 3
        assert journal["rollback_errors"] == []
        assert all(f["ended_at"] is not None for f in journal["faults"])

        # The stack was kept: look for leftovers of each fault in it.
        assert httpx.get(f"{ep.toxiproxy_url}/proxies/postgres/toxics").json() == []
        switches = httpx.get(
            f"{ep.target_url}/admin/chaos", headers={"X-Chaos-Token": ep.chaos_token}
        ).json()["switches"]
        assert switches["exception_rate"] == 0
        assert fault_sessions(ep.postgres_dsn) == 0
        assert locust_processes(str(out)) == []
    finally:
        down = subprocess.run([*cli, "down"], capture_output=True, text=True, check=False)
        assert down.returncode == 0, down.stderr
    assert [n for n, r in state.components.items() if r.pid and pid_alive(r.pid)] == []
