"""``chaoslab export promtool`` on a live pool-exhaustion run with ``--control`` (one run).

The run records the rules' raw series (``series.json``) in both run
directories; the export replays them in promtool, which must pass, with the
pool alerts firing in the fault group and silence in the control group.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from scenarios.export.computed import run_promtool
from tests.integration.scenarios.conftest import UpStack, journal_of

pytestmark = pytest.mark.integration


def test_a_live_run_exports_to_a_passing_promtool_test(up_stack: UpStack, tmp_path: Path) -> None:
    out = tmp_path / "pool-exhaustion"
    run = up_stack.cli("run", "pool-exhaustion", "--control", "--out", str(out), timeout=900)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    journal = journal_of(out)
    assert journal["series_errors"] == []
    for run_dir in (out, out / "control"):
        series = json.loads((run_dir / "series.json").read_text())
        assert series["errors"] == []
        assert series["alerts"] is not None
        selectors = {s["selector"] for s in series["selectors"] if s["result"]["series"]}
        assert 'db_pool_waiting{job="target"}' in selectors

    test_file = tmp_path / "export" / "pool-exhaustion_test.yml"
    exported = up_stack.cli("export", "promtool", str(out), "--out", str(test_file))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert "promtool test rules passes" in exported.stdout
    assert run_promtool(test_file).returncode == 0

    document = yaml.safe_load(test_file.read_text())
    assert document["rule_files"] == ["alerts.scale-1-30.yml"]
    fault, control = document["tests"]
    fired = {t["alertname"] for t in fault["alert_rule_test"] if t["exp_alerts"]}
    assert "DatabasePoolWaiters" in fired
    assert all(t["exp_alerts"] == [] for t in control["alert_rule_test"])
    assert {t["alertname"] for t in control["alert_rule_test"]} >= fired
