"""Runs on a stack ``chaoslab up`` left running: attach, never stop, emergency stop, honest exits.

Exit-code paths covered here: 0 (attached run passed), 1 (a vacuous
detection under ``--control``), 2 (duplicate key), 3 (Locust killed; run
refused on leftover faults; SIGINT/SIGTERM abort).
"""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from scenarios.ledger import LedgerFile
from scenarios.load import read_request_log
from scenarios.loadmodel import RequestRecord
from stack.process import pid_alive
from tests.integration.scenarios.conftest import (
    UpStack,
    finish,
    journal_of,
    locust_pids,
    wait_for_line,
)

pytestmark = pytest.mark.integration

THREE_FAULTS = textwrap.dedent(
    """\
    name: three-faults
    title: A toxic, a table lock and an app switch at once
    load: {users: 5, spawn_rate: 5, duration: 60s}
    faults:
      - {id: slow-link, kind: toxic, target: postgres, toxic: latency,
         attributes: {latency: 20}, at: 3s, duration: 50s}
      - {id: migration-lock, kind: db_lock, table: documents, mode: SHARE, at: 3s, duration: 50s}
      - {id: buggy, kind: app, switches: {exception_rate: 0.2}, at: 3s, duration: 50s}
    expectations:
      - {id: storm, kind: alert, alert: ExceptionStorm, window: {fault: buggy, within: 50s}}
    """
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def panic_afterwards(up_stack: UpStack) -> Iterator[None]:
    """Whatever a test leaves, the next one starts on a clean stack."""
    yield
    up_stack.cli("panic", timeout=120)


def assert_clean(stack: UpStack) -> None:
    assert stack.toxics("postgres") == []
    assert stack.toxics("downstream") == []
    assert stack.proxy_enabled("postgres")
    assert stack.switches()["exception_rate"] == 0
    assert stack.lab_sessions() == 0


def test_a_run_attaches_to_the_running_stack_and_leaves_it_up(
    up_stack: UpStack, tmp_path: Path
) -> None:
    before = up_stack.pids()
    out = tmp_path / "out"
    proc = up_stack.start_run("slow-dependency", "--out", str(out))
    lines = wait_for_line(proc, "start fault classifier-latency")
    assert any("attached" in line for line in lines), "".join(lines)
    during = up_stack.toxics("downstream")
    output = "".join(lines) + finish(proc)
    assert proc.returncode == 0, output[-3000:]
    assert during == ["chaoslab-classifier-latency"]
    assert up_stack.toxics("downstream") == []
    journal = journal_of(out)
    assert journal["stack_owned"] is False
    assert journal["unexpected_alerts"] == [], journal["unexpected_alerts"]
    after = up_stack.pids()
    restarted = set(journal["restarted"])
    assert restarted <= {"target", "classifier"}
    assert {k: v for k, v in after.items() if k not in restarted} == {
        k: v for k, v in before.items() if k not in restarted
    }
    assert all(pid is not None and pid_alive(pid) for pid in after.values())


def test_kill_9_mid_fault_leaves_a_ledger_that_panic_undoes(
    up_stack: UpStack, tmp_path: Path
) -> None:
    scenario = write(tmp_path, "three.yaml", THREE_FAULTS)
    out = tmp_path / "out"
    proc = up_stack.start_run(str(scenario), "--out", str(out))
    wait_for_line(proc, "start fault", count=3)
    proc.kill()  # SIGKILL: no rollback can run in the runner
    proc.wait()
    # The toxic and the switch outlive the runner; its lock session ended with its
    # sockets, but the ledger cannot know that and still lists it.
    assert up_stack.toxics("postgres") == ["chaoslab-slow-link"]
    assert up_stack.switches()["exception_rate"] == 0.2

    status = up_stack.cli("status")
    assert status.returncode == 1
    assert "chaoslab panic" in status.stderr
    assert "toxic chaoslab-slow-link on postgres" in status.stderr
    as_json = json.loads(up_stack.cli("status", "--json").stdout)
    (left,) = as_json["faults"]
    assert left["running"] is False
    assert len(left["pending"]) == 3

    refused = up_stack.cli("run", str(scenario), "--out", str(tmp_path / "refused"))
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "chaoslab panic" in refused.stdout + refused.stderr
    assert journal_of(tmp_path / "refused")["status"] == "error"

    panic = up_stack.cli("panic")
    assert panic.returncode == 0, panic.stdout + panic.stderr
    assert "undid toxic chaoslab-slow-link on postgres" in panic.stdout
    assert_clean(up_stack)
    assert locust_pids(str(out)) == []
    again = up_stack.cli("panic")
    assert again.returncode == 0
    assert "nothing to undo" in again.stdout
    assert up_stack.cli("status").returncode == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_fault_aborts_and_rolls_everything_back(
    up_stack: UpStack, tmp_path: Path, sig: signal.Signals
) -> None:
    scenario = write(tmp_path, "three.yaml", THREE_FAULTS)
    out = tmp_path / "out"
    proc = up_stack.start_run(str(scenario), "--out", str(out))
    wait_for_line(proc, "start fault", count=3)
    assert up_stack.toxics("postgres") == ["chaoslab-slow-link"]
    proc.send_signal(sig)
    output = finish(proc, timeout=120)
    assert proc.returncode == 3, output
    journal = journal_of(out)
    assert journal["status"] == "aborted"
    assert journal["error"] == f"run aborted by {sig.name}"
    assert len(journal["rolled_back"]) == 3
    assert journal["rollback_errors"] == []
    assert_clean(up_stack)
    assert locust_pids(str(out)) == []
    assert not list((up_stack.state_dir / "faults").glob("*.json"))


def test_panic_aborts_a_running_run(up_stack: UpStack, tmp_path: Path) -> None:
    scenario = write(tmp_path, "three.yaml", THREE_FAULTS)
    out = tmp_path / "out"
    proc = up_stack.start_run(str(scenario), "--out", str(out))
    wait_for_line(proc, "start fault", count=3)
    panic = up_stack.cli("panic")
    assert panic.returncode == 0, panic.stdout + panic.stderr
    assert "to abort" in panic.stdout
    finish(proc, timeout=60)
    assert proc.returncode == 3
    assert journal_of(out)["status"] == "aborted"
    assert_clean(up_stack)


def test_locust_killed_mid_run_is_a_lab_error(up_stack: UpStack, tmp_path: Path) -> None:
    scenario = write(tmp_path, "three.yaml", THREE_FAULTS)
    out = tmp_path / "out"
    proc = up_stack.start_run(str(scenario), "--out", str(out))
    wait_for_line(proc, "start fault", count=3)
    (ledger,) = [
        LedgerFile.model_validate_json(path.read_text())
        for path in (up_stack.state_dir / "faults").glob("*.json")
    ]
    (locust,) = ledger.processes  # the run records its Locust process in its ledger
    assert pid_alive(locust.pid)
    os.kill(locust.pid, signal.SIGKILL)
    output = finish(proc, timeout=120)
    assert proc.returncode == 3, output
    journal = journal_of(out)
    assert journal["status"] == "error"
    assert "LoadFailed" in journal["error"]
    assert journal["load_log_tail"]
    assert journal["rollback_errors"] == []
    assert_clean(up_stack)


SHORT = textwrap.dedent(
    """\
    name: seeded
    title: One user, no fault
    load: {users: 1, spawn_rate: 1, duration: 12s, wait_min: 50ms, wait_max: 150ms}
    grace: 1s
    expectations:
      - {id: up, kind: metric, query: 'up{job="target"}', op: "==", threshold: 1}
    """
)


def task_names(out: Path) -> list[str]:
    """The run's actions in order. A list that follows its next page sends a second
    ``GET /api/documents`` only when the data has one, and the data grows from run to
    run: runs of list requests count as one action, so a seed compares its choices."""
    records: list[RequestRecord] = sorted(read_request_log(out / "load"), key=lambda r: r.started)
    names = [f"{r.method} {r.name}" for r in records]
    listing = "GET /api/documents"
    return [n for i, n in enumerate(names) if not (n == listing and names[i - 1 : i] == [n])]


def test_every_run_has_a_seed_that_replays_its_load(up_stack: UpStack, tmp_path: Path) -> None:
    scenario = write(tmp_path, "seeded.yaml", SHORT)
    first = up_stack.cli("run", str(scenario), "--out", str(tmp_path / "a"))
    assert first.returncode == 0, first.stdout + first.stderr
    seed = journal_of(tmp_path / "a")["seed"]
    assert isinstance(seed, int)
    assert f"seed {seed}" in first.stdout
    again = up_stack.cli("run", str(scenario), "--out", str(tmp_path / "b"), "--seed", str(seed))
    assert again.returncode == 0
    other = up_stack.cli(
        "run", str(scenario), "--out", str(tmp_path / "c"), "--seed", str(seed + 1)
    )
    assert other.returncode == 0
    a, b, c = (task_names(tmp_path / d) for d in "abc")
    n = min(len(a), len(b), len(c)) - 2
    assert n > 20
    assert a[:n] == b[:n]
    assert a[:n] != c[:n]  # the control: another seed, another sequence


def test_two_runs_on_one_stack_never_overlap(up_stack: UpStack, tmp_path: Path) -> None:
    scenario = write(tmp_path, "seeded.yaml", SHORT)
    results: dict[str, str] = {}

    def run(name: str) -> None:
        done = up_stack.cli("run", str(scenario), "--out", str(tmp_path / name))
        results[name] = done.stdout + done.stderr

    threads = [threading.Thread(target=run, args=(n,)) for n in ("x", "y")]
    for thread in threads:
        thread.start()
        time.sleep(0.5)
    for thread in threads:
        thread.join(timeout=300)
    spans = sorted(
        (
            datetime.fromisoformat(journal_of(tmp_path / n)["started_at"]),
            datetime.fromisoformat(journal_of(tmp_path / n)["finished_at"]),
        )
        for n in ("x", "y")
    )
    assert spans[0][1] <= spans[1][0], spans
    # Whichever took the lock second (usually y, started 0.5 s later) said it waited.
    assert any("waiting for it" in out for out in results.values()), results
