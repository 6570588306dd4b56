"""The command's exit codes and output for ordinary situations: never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CLI = f"{sys.executable} -m scenarios.cli"


def shell(command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
    )


def test_a_reader_that_goes_away_is_not_an_error() -> None:
    done = shell(f"{CLI} list | head -1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr


def test_a_duplicate_key_is_invalid_input(tmp_path: Path) -> None:
    scenario = tmp_path / "dup.yaml"
    scenario.write_text(
        "name: dup\nname: dup-again\ntitle: t\nload: {duration: 5s}\n"
        "expectations:\n  - {id: up, kind: metric, query: up, threshold: 0}\n"
    )
    done = shell(f"{CLI} validate {scenario}")
    assert done.returncode == 2
    assert f"{scenario}:2: duplicate key 'name' (first at line 1)" in done.stderr
    ran = shell(f"{CLI} --state-dir {tmp_path / 'state'} run {scenario}")
    assert ran.returncode == 2
    assert "duplicate key" in ran.stderr
    assert not (tmp_path / "state").exists(), "invalid input must not start anything"


def test_an_unknown_scenario_is_invalid_input(tmp_path: Path) -> None:
    done = shell(f"{CLI} --state-dir {tmp_path} run no-such-incident")
    assert done.returncode == 2
    assert "no scenario 'no-such-incident'" in done.stderr
    assert "Traceback" not in done.stderr


def test_panic_and_status_on_an_empty_state_dir(tmp_path: Path) -> None:
    panic = shell(f"{CLI} --state-dir {tmp_path} panic")
    assert panic.returncode == 0, panic.stderr
    assert "nothing to undo" in panic.stdout
    status = shell(f"{CLI} --state-dir {tmp_path} status --json")
    assert status.returncode == 0
    assert '"components": {}' in status.stdout
