"""The whole catalog, each scenario with ``--control``, on one attached stack.

Every detection expectation must be **proven** (met with the fault, not met
in the identical run without it) and every ``absent`` one must hold in both.
A deliberately vacuous expectation is reported as such.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from scenarios.loader import catalog, load, resolve
from scenarios.report import empty_panels, plotted_points
from tests.integration.browser import screenshot
from tests.integration.scenarios.conftest import UpStack, journal_of

pytestmark = [pytest.mark.integration, pytest.mark.catalog]

# slow-dependency first: the first run right after `chaoslab up` is where alert
# noise from the stack's own start-up used to show.
ORDER = sorted(catalog(), key=lambda name: (name != "slow-dependency", name))


def judgements(journal: dict[str, Any]) -> dict[str, str]:
    control = journal["control"]
    assert control is not None
    return {j["id"]: j["judgement"] for j in control["judgements"]}


@pytest.mark.parametrize("scenario", ORDER)
def test_scenario_detects_its_incident_and_its_control_does_not(
    up_stack: UpStack, tmp_path: Path, scenario: str
) -> None:
    out = tmp_path / "out"
    done = up_stack.cli("run", scenario, "--control", "--out", str(out), timeout=900)
    output = done.stdout + done.stderr
    journal = journal_of(out)
    failed = [e.get("message") or e["id"] for e in journal["expectations"] if not e["passed"]]
    assert done.returncode == 0, f"{scenario}:\n" + "\n".join(failed) + "\n" + output[-4000:]
    assert journal["status"] == "passed"
    assert journal["stack_owned"] is False
    spec = load(resolve(scenario))
    verdicts = judgements(journal)
    for exp in spec.expectations:
        assert verdicts[exp.id] == ("held" if exp.absent else "proven"), (exp.id, verdicts)
    detections = [e for e in journal["expectations"] if e["time_to_detect_s"] is not None]
    assert detections, "no expectation measured a time to detect"
    assert all(e["time_to_detect_s"] >= 0 for e in detections)
    assert journal["rolled_back"]
    assert journal["rollback_errors"] == []
    for record in journal["faults"]:
        assert record["injected"] is True
        assert 0 <= record["start_lateness_s"] < 5
        assert 0 <= record["end_lateness_s"] < 5
    load_figures = journal["load"]
    assert load_figures["requests"] > 100
    for window in ("before", "during", "after"):
        assert load_figures["windows"][window]["requests"] > 0, window
    control = journal_of(out / "control")
    assert control["no_fault"] is True
    assert control["seed"] == journal["seed"]
    assert control["rolled_back"] == []
    assert "PROVEN" in done.stdout
    assert (out / "evidence.json").is_file()
    assert f"report:  {out / 'report.html'}" in done.stdout
    if scenario == "pool-exhaustion":
        check_report_in_a_browser(out, tmp_path)


def check_report_in_a_browser(out: Path, tmp_path: Path) -> None:
    """A real browser opens the report offline: no console error, no request, no empty plot."""
    result = screenshot(out / "report.html", tmp_path / "report.png")
    assert result.console_errors == []
    assert result.network_requests == []
    assert result.width >= 1000
    assert result.height >= 1000
    assert result.png_bytes > 50_000, "the screenshot is (almost) blank"
    points = plotted_points(result.dom)
    assert points, "no plot in the page"
    assert empty_panels(result.dom) == [], points


VACUOUS = textwrap.dedent(
    """\
    name: pool-exhaustion-short
    title: Pool exhaustion, short, with one expectation that proves nothing
    target: {pool_max: 10, pool_min: 2, pool_acquire_timeout_s: 30}
    load: {users: 30, spawn_rate: 30, duration: 32s, wait_min: 300ms, wait_max: 900ms}
    grace: 5s
    faults:
      - {id: slow-queries, kind: app, at: 8s, duration: 20s, switches: {slow_query_s: 1.0}}
    expectations:
      - id: waiters-queue
        kind: metric
        query: max(db_pool_waiting{job="target"})
        op: ">"
        threshold: 0
        hold: 3s
        window: {fault: slow-queries, within: 20s}
      - id: traffic-flows
        kind: metric
        description: true with or without the fault
        query: sum(http_requests_total{job="target"})
        op: ">"
        threshold: 0
        window: {fault: slow-queries, within: 15s}
    """
)


def test_control_reports_a_vacuous_expectation(up_stack: UpStack, tmp_path: Path) -> None:
    scenario = tmp_path / "vacuous.yaml"
    scenario.write_text(VACUOUS)
    out = tmp_path / "out"
    done = up_stack.cli("run", str(scenario), "--control", "--out", str(out), timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    journal = journal_of(out)
    assert journal["status"] == "passed"  # the fault run met everything...
    assert judgements(journal) == {"waiters-queue": "proven", "traffic-flows": "vacuous"}
    assert "VACUOUS" in done.stdout
