"""``--chaoslab-control``: how the plugin turns a control report into item outcomes.

A real control run needs a stack and minutes (the catalog's integration tests
do that); here the session's ``execute`` is replaced by one that returns a
prepared journal, so only the plugin's own rules are under test: proven and
held pass, vacuous and missed fail showing what each run observed, and the
mode and seed reach the session.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import scenarios.session
from assertions.engine import Verdict
from scenarios.journal import ControlReport, ExpectationJudgement, Journal, write
from scenarios.model import Scenario
from tests.unit.test_plugin_collection import INI, STORM

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

#: (fault status, fault observed, control status, control observed, judgement) per id
OUTCOMES = {
    "exceptions-counted": ("passed", "value 42", "failed", "no series", "proven"),
    "storm-alert": (
        "passed",
        "ExceptionStorm firing",
        "passed",
        "ExceptionStorm firing",
        "vacuous",
    ),
    "error-logs": ("failed", "0 matching line(s)", "failed", "0 matching line(s)", "missed"),
}


def verdict(id_: str, status: str, observed: str) -> Verdict:
    return Verdict(id=id_, kind="metric", description=id_, status=status, observed=observed)


class FakeSession:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def execute(self, scenario: Scenario, **kwargs: Any) -> Journal:
        self.calls.append(kwargs)
        out_dir: Path = kwargs["out_dir"]
        control = Journal(
            scenario=scenario.name,
            run_id="control-run",
            status="failed",
            started_at=T0,
            no_fault=True,
            expectations=[verdict(i, o[2], o[3]) for i, o in OUTCOMES.items()],
        )
        write(control, out_dir / "control")
        return Journal(
            scenario=scenario.name,
            run_id="fault-run",
            status="failed",
            started_at=T0,
            seed=kwargs["seed"],
            expectations=[verdict(i, o[0], o[1]) for i, o in OUTCOMES.items()],
            control=ControlReport(
                run_id="control-run",
                status="failed",
                journal=str(out_dir / "control" / "journal.json"),
                judgements=[
                    ExpectationJudgement(
                        id=i,
                        kind="metric",
                        absent=False,
                        fault_status=o[0],
                        control_status=o[2],
                        judgement=o[4],
                    )
                    for i, o in OUTCOMES.items()
                ],
            ),
        )


@pytest.fixture
def session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> FakeSession:
    pytester.makeini(INI)
    fake = FakeSession()
    monkeypatch.setattr(scenarios.session, "execute", fake.execute)
    return fake


def test_only_proven_passes_and_failures_show_both_runs(
    pytester: pytest.Pytester, session: FakeSession
) -> None:
    pytester.makefile(".yaml", chaoslab_storm=STORM)

    result = pytester.runpytest("--chaoslab-control", "--chaoslab-seed=7")

    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "storm-alert: vacuous: met with and without the fault: it proves nothing",
            "  with the fault, run fault-run: passed; observed: ExceptionStorm firing",
            "  control (no fault), run control-run: passed; observed: ExceptionStorm firing",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "error-logs: missed: not met with the fault",
            "  with the fault, run fault-run: failed; observed: 0 matching line(s)",
            "  control (no fault), run control-run: failed; observed: 0 matching line(s)",
        ]
    )
    [call] = session.calls  # one run (with its control) for the whole file
    assert call["mode"] == "control"
    assert call["seed"] == 7
    assert call["fresh"] is False


def test_without_control_the_fault_run_verdicts_decide(
    pytester: pytest.Pytester, session: FakeSession
) -> None:
    pytester.makefile(".yaml", chaoslab_storm=STORM)

    result = pytester.runpytest()

    result.assert_outcomes(passed=2, failed=1)
    [call] = session.calls
    assert call["mode"] == "fault"
    assert call["seed"] is None
