"""A run with no stack running starts its own and stops it; ``--fresh`` never touches ``up``'s."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from stack.process import pid_alive
from stack.state import read_state
from tests.integration.scenarios.conftest import CLI, UpStack, journal_of

pytestmark = pytest.mark.integration

SHORT = textwrap.dedent(
    """\
    name: owned
    title: A short run on a stack of its own
    load: {users: 2, spawn_rate: 2, duration: 10s}
    grace: 1s
    faults:
      - {id: slow-link, kind: toxic, target: postgres, toxic: latency,
         attributes: {latency: 50}, at: 2s, duration: 5s}
    expectations:
      - {id: up, kind: metric, query: 'up{job="target"}', op: "==", threshold: 1}
    """
)


def test_a_run_without_a_stack_starts_one_and_stops_it(tmp_path: Path) -> None:
    scenario = tmp_path / "owned.yaml"
    scenario.write_text(SHORT)
    state_dir = tmp_path / ".chaoslab"
    out = tmp_path / "out"
    done = subprocess.run(
        [*CLI, "--state-dir", str(state_dir), "run", str(scenario), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    journal = journal_of(out)
    assert journal["stack_owned"] is True
    assert journal["rolled_back"] == ["toxic chaoslab-slow-link on postgres"]
    assert read_state(state_dir) is None, "the run's own stack was left running"


def test_fresh_uses_a_throwaway_stack_beside_a_running_one(
    up_stack: UpStack, tmp_path: Path
) -> None:
    scenario = tmp_path / "owned.yaml"
    scenario.write_text(SHORT)
    before = up_stack.pids()
    out = tmp_path / "out"
    done = up_stack.cli("run", str(scenario), "--fresh", "--out", str(out), timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert journal_of(out)["stack_owned"] is True
    assert up_stack.pids() == before
    assert all(pid is not None and pid_alive(pid) for pid in before.values())
    assert up_stack.toxics("postgres") == []
    # The fresh stack's own state is gone with it.
    leftover = [p for p in up_stack.state_dir.rglob("stack.json") if p.parent != up_stack.state_dir]
    assert leftover == []
