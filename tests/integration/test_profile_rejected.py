"""A profile that validates but cannot work is invalid input: exit 2, file and line, nothing left.

Three problems only a start reveals: a ``url`` nothing answers on, a
``command`` that exits at once, and a metrics path the service does not
serve. Each ``chaoslab run`` starts a real stack for the profile; the check
afterwards only reads ``/proc`` and the state dir.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stack.ports import free_port
from tests.integration.test_up_killed import processes_referencing

pytestmark = pytest.mark.integration

SCENARIO = """\
name: rejected
title: A profile that cannot work
target: {profile: profile.yaml}
load: {users: 1, duration: 5s}
expectations:
  - {id: quiet, kind: sentry, absent: true}
"""

HTTP_SERVER = '["${python}", "-m", "http.server", "--bind", "${host}", "${port}"]'


def profile(body: str) -> str:
    return textwrap.dedent(
        """\
        name: broken
        service: broken
        health: {ready: /}
        load: {locustfile: users.py}
        """
    ) + textwrap.dedent(body)


def run(folder: Path, profile_text: str) -> subprocess.CompletedProcess[str]:
    (folder / "users.py").write_text("from locust import HttpUser\n")
    (folder / "profile.yaml").write_text(profile_text)
    (folder / "scenario.yaml").write_text(SCENARIO)
    state = folder / "state"
    return subprocess.run(
        [
            *(sys.executable, "-m", "scenarios.cli", "--state-dir", str(state), "run"),
            *(str(folder / "scenario.yaml"), "--out", str(folder / "out"), "--quiet"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def line_of(path: Path, needle: str) -> int:
    return next(i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


@pytest.mark.parametrize(
    ("body", "needle", "message"),
    [
        (f"url: http://127.0.0.1:{free_port()}\n", "url:", "does not answer"),
        (
            'command: ["${python}", "-c", "import sys; sys.exit(3)"]\n',
            "command:",
            "exited with code 3",
        ),
        (f"command: {HTTP_SERVER}\nmetrics: [/no-metrics-here]\n", "metrics:", "answered 404"),
    ],
    ids=["unreachable-url", "command-exits-at-once", "missing-metrics-path"],
)
def test_a_profile_that_cannot_start_is_invalid_input_and_leaves_nothing(
    tmp_path: Path, body: str, needle: str, message: str
) -> None:
    result = run(tmp_path, profile(body))
    assert result.returncode == 2, result.stdout + result.stderr
    path = tmp_path / "profile.yaml"
    assert f"{path}:{line_of(path, needle)}:" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
    assert not (tmp_path / "state" / "stack.json").exists()
    assert processes_referencing([str(tmp_path)]) == []
