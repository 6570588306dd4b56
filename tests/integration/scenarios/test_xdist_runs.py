"""Collected scenario files under ``pytest -n 2``: the plugin's runs take turns on one stack.

Two scenario files, one expectation each, so ``pytest-xdist`` hands one item
to each worker and both workers start their run at once on the stack
``chaoslab up`` left. The session's run lock (``<state_dir>/run.lock``) must
make the second wait: the two journals' ``[started_at, finished_at]`` never
overlap, and both runs attached to the stack instead of starting their own.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.integration.scenarios.conftest import UpStack, journal_of

pytestmark = pytest.mark.integration

WAITING = "another run is using the stack"  # what scenarios.session.run_lock says when it waits


def short_scenario(name: str) -> str:
    return textwrap.dedent(
        f"""\
        name: {name}
        title: A short run for the xdist test
        load: {{users: 2, spawn_rate: 2, duration: 12s}}
        faults:
          - {{id: slow-db, kind: toxic, target: postgres, toxic: latency,
             attributes: {{latency: 30}}, at: 2s, duration: 6s}}
        expectations:
          - {{id: target-up, kind: metric, query: 'up{{job="target"}}', op: "==", threshold: 1}}
        grace: 1s
        """
    )


@pytest.fixture(autouse=True)
def panic_afterwards(up_stack: UpStack) -> Iterator[None]:
    """Whatever a test leaves, the next one starts on a clean stack."""
    yield
    up_stack.cli("panic", timeout=120)


def test_two_xdist_workers_take_turns_on_one_attached_stack(
    up_stack: UpStack, tmp_path: Path
) -> None:
    files = []
    for stem in ("a", "b"):
        path = tmp_path / f"{stem}.yaml"
        path.write_text(short_scenario(f"xdist-{stem}"))
        files.append(str(path))
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:locust",  # as the repo's addopts: Locust's plugin would gevent-patch the workers
        "--chaoslab-scenarios",
        f"--chaoslab-stack={up_stack.state_dir}",
        f"--chaoslab-out={out}",
        *files,
        "-q",
        "-rP",  # passed items' captured output: shows the worker that waited for the lock
    ]
    began = time.monotonic()
    inner = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=600
    )
    took = time.monotonic() - began
    output = inner.stdout + inner.stderr
    assert inner.returncode == 0, output[-4000:]
    assert "2 passed" in inner.stdout, output[-4000:]
    # Both workers started at once, so one of them found the stack in use and waited.
    assert WAITING in inner.stdout, output[-4000:]

    # The plugin writes each file's run to <--chaoslab-out>/<file stem>/journal.json.
    journals = [journal_of(out / stem) for stem in ("a", "b")]
    assert [j["scenario"] for j in journals] == ["xdist-a", "xdist-b"]
    for journal in journals:
        assert journal["status"] == "passed", journal
        assert journal["stack_owned"] is False
        assert journal["finished_at"] is not None
    first, second = sorted(
        (datetime.fromisoformat(j["started_at"]), datetime.fromisoformat(j["finished_at"]))
        for j in journals
    )
    assert first[1] <= second[0], f"runs overlapped: {first} and {second}"
    # Serialized, the two 12 s loads cannot both fit in the time of one.
    assert took >= 24, f"the inner pytest took {took:.1f} s"
