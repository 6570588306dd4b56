"""Runs attach to the stack ``chaoslab up`` left running, change only what differs, stop nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.attached import AttachedStack
from stack.local import COMPONENTS, default_settings
from stack.process import pid_alive, process_start_time, stop_pid
from stack.profile import default_profile
from stack.state import StackState, read_state

pytestmark = pytest.mark.integration


def chaoslab(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scenarios.cli", "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def pids(state: StackState) -> dict[str, tuple[int | None, int | None]]:
    return {name: (rec.pid, rec.start_time) for name, rec in state.components.items()}


def on_disk(state_dir: Path) -> StackState:
    state = read_state(state_dir)
    assert state is not None
    return state


def alive(pid: int | None, start_time: int | None) -> bool:
    return pid is not None and pid_alive(pid) and process_start_time(pid) == start_time


def active_alerts(prometheus_url: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = httpx.get(prometheus_url + "/api/v1/alerts").json()["data"][
        "alerts"
    ]
    return [a for a in alerts if a["state"] in ("pending", "firing")]


def target_down_seen(prometheus_url: str) -> bool:
    query = 'up{job="target"} == 0'
    response = httpx.get(prometheus_url + "/api/v1/query", params={"query": query})
    return bool(response.json()["data"]["result"])


def pool_max(target_url: str) -> float | None:
    for line in httpx.get(target_url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("db_pool_max"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_attach_applies_only_changed_settings_and_never_stops_the_stack(tmp_path: Path) -> None:
    state_dir = (tmp_path / ".chaoslab").resolve()
    seen: set[tuple[int | None, int | None]] = set()
    try:
        started = time.monotonic()
        up = chaoslab(state_dir, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        up_s = time.monotonic() - started

        stack = AttachedStack.attach(state_dir)
        assert stack is not None
        assert stack.owned is False
        assert set(stack.state.components) == {*COMPONENTS, "classifier"}
        # A fresh stack raises no alarm: nothing pending or firing once `up` returned.
        assert active_alerts(stack.endpoints.prometheus_url) == [], f"up took {up_s:.1f} s"

        before = pids(on_disk(state_dir))
        seen |= set(before.values())
        # `up` starts the apps with the default settings, so a scenario keeping them
        # restarts nothing; one changing only the pool restarts only the target.
        settings = default_settings(default_profile())
        defaults = settings["target"]
        assert on_disk(state_dir).components["target"].settings == defaults
        assert on_disk(state_dir).components["classifier"].settings == settings["classifier"]
        assert stack.apply_settings(settings) == []
        wanted = {**defaults, "TARGET_POOL_MAX": "7"}
        assert stack.apply_settings({**settings, "target": wanted}) == ["target"]
        after = pids(on_disk(state_dir))
        seen |= set(after.values())
        assert after["target"] != before["target"]
        assert alive(*after["target"])
        assert {n: p for n, p in after.items() if n != "target"} == {
            n: p for n, p in before.items() if n != "target"
        }
        assert on_disk(state_dir).components["target"].settings == wanted
        assert httpx.get(stack.endpoints.target_url + "/startup", timeout=5).status_code == 200
        assert pool_max(stack.endpoints.target_url) == 7
        # The restart was scraped: no TargetDown (or anything else) left pending.
        deadline = time.monotonic() + 5
        while active_alerts(stack.endpoints.prometheus_url) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert active_alerts(stack.endpoints.prometheus_url) == []

        assert stack.apply_settings({**settings, "target": wanted}) == []
        assert pids(on_disk(state_dir)) == after

        stack.close()
        assert all(alive(*pid) for pid in after.values()), "close() must stop nothing"

        # A restart by another process outlives it, and stays recorded for `down`.
        restart = textwrap.dedent(
            f"""
            from pathlib import Path
            from stack.attached import AttachedStack
            stack = AttachedStack.attach(Path({str(state_dir)!r}))
            assert stack is not None
            stack.restart("classifier")
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", restart], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        last = pids(on_disk(state_dir))
        seen |= set(last.values())
        assert last["classifier"] != after["classifier"]
        assert alive(*last["classifier"]), "the restarted classifier died with its restarter"
        assert AttachedStack.attach(state_dir) is not None
    finally:
        down = chaoslab(state_dir, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert [pid for pid in seen if alive(*pid)] == []
    assert read_state(state_dir) is None


def test_a_new_stack_in_the_same_state_dir_starts_with_clean_alerting(tmp_path: Path) -> None:
    """What an earlier stack in the state dir saw does not leak into the next one.

    The run used to tear the ``up`` stack down and start another in the same
    state dir: the old TSDB (the old target's last ``up == 0``) made
    ``TargetDown`` fire, and the old notification log kept Alertmanager silent
    about an alert it had already notified (same labels, ``repeat_interval``).
    """
    state_dir = (tmp_path / ".chaoslab").resolve()
    labels = {"alertname": "DownstreamSlow", "job": "target", "service": "classifier"}

    def notify(alertmanager_url: str) -> None:
        now = time.time()
        alert = {
            "labels": labels,
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 300)),
        }
        httpx.post(alertmanager_url + "/api/v2/alerts", json=[alert]).raise_for_status()

    def notified(webhook_url: str, timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            notes = httpx.get(webhook_url + "/notifications").json()
            if any(
                a["labels"]["alertname"] == "DownstreamSlow"
                for n in notes
                for a in n["payload"]["alerts"]
            ):
                return True
            time.sleep(0.5)
        return False

    try:
        up = chaoslab(state_dir, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        first = on_disk(state_dir)
        notify(first.endpoints.alertmanager_url)
        assert notified(first.endpoints.webhook_url)
        # The target dies before Prometheus (a kill fault, a crash): `up == 0` is recorded.
        target = first.components["target"]
        assert target.pid is not None
        stop_pid(target.pid, target.start_time)
        deadline = time.monotonic() + 15
        while not target_down_seen(first.endpoints.prometheus_url):
            assert time.monotonic() < deadline, "Prometheus never saw the target down"
            time.sleep(0.5)
        down = chaoslab(state_dir, "down")
        assert down.returncode == 0, down.stderr
        (state_dir / "webhook" / "notifications.jsonl").unlink()

        up = chaoslab(state_dir, "up")
        assert up.returncode == 0, up.stdout + up.stderr
        second = on_disk(state_dir)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert active_alerts(second.endpoints.prometheus_url) == []
            time.sleep(0.5)
        notify(second.endpoints.alertmanager_url)
        assert notified(second.endpoints.webhook_url), "Alertmanager stayed silent"
    finally:
        chaoslab(state_dir, "down")
