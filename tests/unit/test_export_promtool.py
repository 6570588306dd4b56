"""``chaoslab export promtool`` on a recorded pool-exhaustion run (with its control run), no stack.

The exported file passes ``promtool test rules`` as written; every rule that
fired is then broken three ways (threshold past the peak, ``for:`` longer
than the fault, a label it keys on dropped) and promtool must fail each time;
the control group expects silence and fails when a rule is broken open.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from scenarios.cli import main
from scenarios.export.computed import parse_labels, run_promtool
from scenarios.export.promtool import export
from scenarios.export.recording import SERIES_FILE, SeriesRecording, collect, record
from scenarios.export.rulefiles import staged
from scenarios.export.rules import alert_rules, selectors
from scenarios.journal import Journal
from stack.alerting import ALERT_RULES
from stack.profile import default_profile
from stack.state import StackState
from tests.unit.promtool_mutations import (
    Mutation,
    always_true,
    drop_label,
    keyed_label,
    lengthen_for,
    raise_threshold,
)

RECORDED = Path(__file__).parent / "recorded"
RUN = RECORDED / "export" / "pool-exhaustion"
OLD_RUN = RECORDED / "runs" / "pool-exhaustion"  # recorded before runs kept their series
FIRED = ("DatabasePoolSaturated", "DatabasePoolWaiters", "HighLatencyP99")


@dataclass(frozen=True)
class Exported:
    folder: Path
    test_file: Path
    document: dict[str, Any]

    @property
    def rules_file(self) -> Path:
        (name,) = self.document["rule_files"]
        return self.folder / str(name)

    def group(self, kind: str) -> dict[str, Any]:
        (found,) = [g for g in self.document["tests"] if f" {kind} run " in g["name"]]
        return dict(found)

    def copy(self, dest: Path, groups: list[str] | None = None) -> Path:
        """The test and its rules in ``dest`` (only the named groups, when given)."""
        shutil.copytree(self.folder, dest)
        test_file = dest / self.test_file.name
        if groups is not None:
            document = dict(self.document)
            document["tests"] = [self.group(kind) for kind in groups]
            test_file.write_text(yaml.safe_dump(document, sort_keys=False, width=1 << 20))
        return test_file


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    folder = tmp_path_factory.mktemp("promtool")
    test_file = folder / "pool-exhaustion_test.yml"
    export(RUN, test_file)
    return Exported(folder, test_file, yaml.safe_load(test_file.read_text()))


def promtool_fails(test_file: Path) -> str:
    result = run_promtool(test_file)
    assert result.returncode != 0, f"promtool passed {test_file}:\n{result.stdout}"
    return result.stdout + result.stderr


def test_exported_file_passes_promtool(exported: Exported) -> None:
    result = run_promtool(exported.test_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert exported.document["evaluation_interval"] == "1s"
    assert exported.rules_file.name == "alerts.scale-1-30.yml"
    assert "# chaoslab-time-scale: 1/30" in exported.rules_file.read_text()


def test_fault_group_expects_what_fired(exported: Exported) -> None:
    group = exported.group("fault")
    assert group["interval"] == "1s"
    firing = {t["alertname"] for t in group["alert_rule_test"] if t["exp_alerts"]}
    assert firing == set(FIRED)
    for name in FIRED:
        silent = [
            t for t in group["alert_rule_test"] if t["alertname"] == name and not t["exp_alerts"]
        ]
        assert silent, f"{name}: no check where it was silent"
    waiters = next(
        t
        for t in group["alert_rule_test"]
        if t["alertname"] == "DatabasePoolWaiters" and t["exp_alerts"]
    )
    (alert,) = waiters["exp_alerts"]
    assert alert["exp_labels"]["severity"] == "critical"
    assert alert["exp_labels"]["job"] == "target"
    assert alert["exp_annotations"]["runbook_url"] == "docs/runbooks/database-pool-waiters.md"
    # folded: the pool's size is runs of equal values; the target was restarted (to apply
    # this scenario's settings) before the run, which Prometheus marked stale
    series = {s["series"].split("{")[0]: s["values"] for s in group["input_series"]}
    assert series["db_pool_max"] == "10x39 stale _x2 10x72"


def test_control_group_expects_silence(exported: Exported, tmp_path: Path) -> None:
    group = exported.group("control")
    checked = {t["alertname"] for t in group["alert_rule_test"]}
    assert set(FIRED) <= checked
    assert all(t["exp_alerts"] == [] for t in group["alert_rule_test"])
    control_only = exported.copy(tmp_path / "control", ["control"])
    assert run_promtool(control_only).returncode == 0


def _mutations(exported: Exported) -> list[tuple[str, str, Mutation]]:
    rules = {r.name: r for r in alert_rules(exported.rules_file.read_text())}
    cases: list[tuple[str, str, Mutation]] = []
    for name in FIRED:
        test = next(
            t
            for t in exported.group("fault")["alert_rule_test"]
            if t["alertname"] == name and t["exp_alerts"]
        )
        label = keyed_label(rules[name].expr, test["exp_alerts"][0]["exp_labels"])
        cases += [
            (name, "threshold past the peak", raise_threshold),
            (name, "for: longer than the fault", lengthen_for),
            (name, f"label {label} dropped", drop_label(label)),
        ]
    return cases


def test_every_mutation_of_a_fired_rule_fails_promtool(exported: Exported, tmp_path: Path) -> None:
    cases = _mutations(exported)
    assert len(cases) == 3 * len(FIRED)
    for index, (name, what, mutate) in enumerate(cases):
        test_file = exported.copy(tmp_path / str(index))
        rules = test_file.parent / exported.rules_file.name
        rules.write_text(mutate(rules.read_text(), name))
        output = promtool_fails(test_file)
        assert f"alertname: {name}," in output, f"{name}, {what}: promtool failed elsewhere"


@pytest.mark.parametrize("name", FIRED)
def test_a_rule_broken_open_fails_the_control_group(
    exported: Exported, tmp_path: Path, name: str
) -> None:
    test_file = exported.copy(tmp_path / "control", ["control"])
    rules = test_file.parent / exported.rules_file.name
    rules.write_text(always_true(rules.read_text(), name))
    assert f"alertname: {name}," in promtool_fails(test_file)


def test_regenerated_rules_pass_and_a_changed_source_fails(
    exported: Exported, tmp_path: Path
) -> None:
    """The harness scales the rules again from their source: a changed rule is tested."""
    test_file = exported.copy(tmp_path / "copy")
    source = tmp_path / "alerts.yml"
    source.write_text(ALERT_RULES.read_text())
    rules = test_file.parent / exported.rules_file.name
    lines = rules.read_text().splitlines(keepends=True)
    rules.write_text(
        "".join(
            f"# chaoslab-source: {source}\n" if line.startswith("# chaoslab-source: ") else line
            for line in lines
        )
    )
    (tmp_path / "stage").mkdir()
    assert run_promtool(staged(test_file, tmp_path / "stage")).returncode == 0
    waiters = 'max by (job, instance) (db_pool_waiting{job="target"}) > 0'
    assert waiters in ALERT_RULES.read_text()
    source.write_text(ALERT_RULES.read_text().replace(waiters, waiters.replace("> 0", "> 50")))
    (tmp_path / "changed").mkdir()
    assert "alertname: DatabasePoolWaiters," in promtool_fails(
        staged(test_file, tmp_path / "changed")
    )


def test_promtool_labels_are_read_with_go_escapes() -> None:
    text = r'alertname="A", route="/api/{id}", note="say \"hi\"\n\tnext, \xc3\xa9 \u00e9 ≥"'
    assert parse_labels(text) == {
        "alertname": "A",
        "route": "/api/{id}",
        "note": 'say "hi"\n\tnext, é é ≥',
    }


def test_rule_selectors_are_what_the_rules_read() -> None:
    rules = alert_rules(ALERT_RULES.read_text())
    found = {s for rule in rules for s in selectors(rule.expr)}
    assert 'db_pool_waiting{job="target"}' in found
    assert 'http_request_duration_seconds_bucket{job="target", route=~"/api/.*"}' in found
    assert 'up{job="target"}' in found


def test_export_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "promtool", str(tmp_path / "nowhere")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["export", "promtool", str(OLD_RUN), "--out", str(tmp_path / "t.yml")]) == 2
    assert "has no series.json" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(RUN, broken)
    recording = SeriesRecording.model_validate_json((broken / SERIES_FILE).read_text())
    recording.errors.append("series of up: prometheus unreachable")
    (broken / SERIES_FILE).write_text(recording.model_dump_json())
    assert main(["export", "promtool", str(broken)]) == 2
    assert "could not record every series" in capsys.readouterr().err
    out = tmp_path / "ok" / "t.yml"
    assert main(["export", "promtool", str(RUN / "journal.json"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "promtool test rules passes" in printed
    assert "fired: DatabasePoolSaturated" in printed
    assert out.is_file()
    assert (out.parent / "alerts.scale-1-30.yml").is_file()


def test_recording_never_fails_a_run(tmp_path: Path) -> None:
    journal = Journal.model_validate_json((RUN / "journal.json").read_text())
    state = StackState(state_dir=str(tmp_path))
    assert collect(state, default_profile(), journal) is None  # no Prometheus: nothing to record
    state.endpoints.prometheus_url = "http://127.0.0.1:9"  # nothing listens on the discard port
    errors = record(state, default_profile(), journal, tmp_path)
    assert errors
    assert all("prometheus" in e.lower() for e in errors)
    written = SeriesRecording.model_validate_json((tmp_path / SERIES_FILE).read_text())
    assert written.errors == errors
    assert written.rule_files[0].scale == "1"


def test_stable_annotations_are_what_alertmanager_received(tmp_path: Path) -> None:
    """``runbook_url`` does not depend on ``$value``: promtool must render what was sent."""
    lines: list[str] = []
    summary = export(RUN, tmp_path / "a" / "t.yml", say=lines.append)
    assert not [n for n in summary.notes if "Alertmanager received" in n]
    assert any("annotations as Alertmanager received them" in line for line in lines)

    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    evidence = (run / "evidence.json").read_text()
    runbook = "docs/runbooks/database-pool-waiters.md"
    assert runbook in evidence
    (run / "evidence.json").write_text(evidence.replace(runbook, "docs/runbooks/elsewhere.md"))
    summary = export(run, tmp_path / "b" / "t.yml")
    assert any(
        "DatabasePoolWaiters annotation runbook_url" in n and "elsewhere.md" in n
        for n in summary.notes
    )


def test_a_check_promtool_disagrees_with_is_dropped_and_named(tmp_path: Path) -> None:
    """A recording that missed the alert: promtool computes it firing, the check is dropped."""
    run = tmp_path / "run"
    shutil.copytree(RUN, run)
    recording = SeriesRecording.model_validate_json((run / SERIES_FILE).read_text())
    assert recording.alerts is not None
    kept = [s for s in recording.alerts.series if s.labels["alertname"] != "DatabasePoolWaiters"]
    recording.alerts = recording.alerts.model_copy(update={"series": kept})
    (run / SERIES_FILE).write_text(recording.model_dump_json())
    test_file = tmp_path / "out" / "t.yml"
    summary = export(run, test_file)
    dropped = [n for n in summary.notes if "DatabasePoolWaiters" in n and "check dropped" in n]
    assert dropped, summary.notes
    assert summary.groups[0].dropped
    assert run_promtool(test_file).returncode == 0
