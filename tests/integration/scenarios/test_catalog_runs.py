"""The whole catalog, each scenario with ``--control``, on one attached stack.

Every detection expectation must be **proven** (met with the fault, not met
in the identical run without it) and every ``absent`` one must hold in both.
A deliberately vacuous expectation is reported as such. Each run and its
control are then exported with ``chaoslab export promtool`` and the test must
pass in promtool, the expected alerts firing in the fault group only.
"""

from __future__ import annotations

import json
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from assertions.expectations import AlertExpectation
from scenarios.export.computed import run_promtool
from scenarios.load import read_request_log
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
    for window in ("before", "after"):
        assert load_figures["windows"][window]["requests"] > 0, window
    assert_load_flowed_through_every_fault(journal, out)
    control = journal_of(out / "control")
    assert control["no_fault"] is True
    assert control["seed"] == journal["seed"]
    assert control["rolled_back"] == []
    assert "PROVEN" in done.stdout
    assert (out / "evidence.json").is_file()
    assert f"report:  {out / 'report.html'}" in done.stdout
    check_export_to_promtool(up_stack, out, tmp_path, scenario)
    if scenario == "pool-exhaustion":
        check_report_in_a_browser(out, tmp_path)


def assert_load_flowed_through_every_fault(journal: dict[str, Any], out: Path) -> None:
    """Users kept sending through each fault: a request was in flight during it.

    A request need not *finish* inside the fault: while an ACCESS EXCLUSIVE
    lock is held every request waits on it and finishes only once it is
    released, so the journal's ``during`` window may rightly count none. What
    must hold is that requests overlapped the fault, started before its end
    and finished after its start.
    """
    records = read_request_log(out / "load")
    assert records, "no request log"
    for record in journal["faults"]:
        start = datetime.fromisoformat(record["started_at"]).timestamp()
        end = datetime.fromisoformat(record["ended_at"]).timestamp()
        overlapping = [r for r in records if r.started < end and r.finished > start]
        assert overlapping, f"no request was in flight during {record['id']}"


def check_export_to_promtool(up_stack: UpStack, out: Path, tmp_path: Path, scenario: str) -> None:
    """The run and its control export to a promtool test that passes.

    Both run directories recorded the rules' raw series; replayed in promtool,
    every alert the scenario expects fires in the fault group and none fires
    in the control group.
    """
    assert journal_of(out)["series_errors"] == []
    for run_dir in (out, out / "control"):
        series = json.loads((run_dir / "series.json").read_text())
        assert series["errors"] == []
        assert series["alerts"] is not None
        assert any(s["result"]["series"] for s in series["selectors"]), run_dir

    test_file = tmp_path / "export" / f"{scenario}_test.yml"
    exported = up_stack.cli("export", "promtool", str(out), "--out", str(test_file))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert "promtool test rules passes" in exported.stdout
    assert run_promtool(test_file).returncode == 0

    document = yaml.safe_load(test_file.read_text())
    assert document["rule_files"] == ["alerts.scale-1-30.yml"]
    fault, control = document["tests"]
    expectations = load(resolve(scenario)).expectations
    expected = {e.alert for e in expectations if isinstance(e, AlertExpectation) and not e.absent}
    fired = {t["alertname"] for t in fault["alert_rule_test"] if t["exp_alerts"]}
    assert expected <= fired, (expected, fired)
    checked = {t["alertname"] for t in control["alert_rule_test"]}
    loud = {t["alertname"] for t in control["alert_rule_test"] if t["exp_alerts"]}
    assert expected <= checked, (expected, checked)
    assert not expected & loud, f"fired in the control run: {sorted(expected & loud)}"


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
