"""The three headline scenarios detect their incident, and their control runs do not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scenarios.loader import load, resolve

pytestmark = pytest.mark.integration

HEADLINE = ["pool-exhaustion", "slow-dependency", "exception-storm"]


def chaoslab_run(tmp_path: Path, scenario: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scenarios.cli",
            "--state-dir",
            str(tmp_path / ".chaoslab"),
            "run",
            scenario,
            "--out",
            str(out),
            "--seed",
            "7",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=420,
    )
    journal = json.loads((out / "journal.json").read_text())
    assert (out / "junit.xml").read_text().startswith("<?xml")
    return result.returncode, journal, result.stdout + result.stderr


def by_id(journal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {exp["id"]: exp for exp in journal["expectations"]}


@pytest.mark.parametrize("scenario", HEADLINE)
def test_scenario_detects_its_incident(tmp_path: Path, scenario: str) -> None:
    check_detected(tmp_path, scenario)


@pytest.mark.parametrize("scenario", HEADLINE)
def test_control_run_does_not_detect(tmp_path: Path, scenario: str) -> None:
    check_control(tmp_path, scenario)


def check_detected(tmp_path: Path, scenario: str) -> None:
    code, journal, output = chaoslab_run(tmp_path, scenario)
    failed = [e["message"] or e["id"] for e in journal["expectations"] if not e["passed"]]
    assert code == 0, f"{scenario} failed:\n" + "\n".join(failed) + "\n" + output[-3000:]
    assert journal["status"] == "passed"
    assert journal["scenario"] == scenario
    for exp in journal["expectations"]:
        assert exp["status"] == "passed"
        if exp["time_to_detect_s"] is not None:
            assert exp["time_to_detect_s"] >= 0
    detections = [e for e in journal["expectations"] if e["time_to_detect_s"] is not None]
    assert detections, "no expectation measured a time to detect"
    assert [f["injected"] for f in journal["faults"]] == [True] * len(journal["faults"])
    assert journal["rolled_back"], "the fault's undo did not run"
    assert journal["rollback_errors"] == []
    load = journal["load"]
    assert load["requests"] > 100
    for window in ("before", "during", "after"):
        assert load["windows"][window]["requests"] > 0, window
    assert "PASS" in output


def check_control(tmp_path: Path, scenario: str) -> None:
    code, journal, output = chaoslab_run(tmp_path, scenario, "--no-fault")
    assert code == 1, output[-3000:]
    assert journal["status"] == "failed"
    assert journal["no_fault"] is True
    assert [f["injected"] for f in journal["faults"]] == [False] * len(journal["faults"])
    assert journal["rolled_back"] == []
    expectations = by_id(journal)
    spec = load(resolve(scenario))
    detections = {e.id for e in spec.expectations if not e.absent}
    quiet = {e.id for e in spec.expectations if e.absent}
    assert detections
    # Every expectation that looks for the incident stays unmet, with its reason...
    for exp_id in detections:
        assert expectations[exp_id]["status"] == "failed", (exp_id, expectations[exp_id])
        assert "did not surface" in expectations[exp_id]["message"], exp_id
    # ...while the "nothing of this should happen" ones hold.
    for exp_id in quiet:
        assert expectations[exp_id]["status"] == "passed", (exp_id, expectations[exp_id])
