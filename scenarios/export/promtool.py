"""A ``promtool test rules`` file from a run and its control run.

    export(Path("out/pool-exhaustion"), Path("tests/incidents/pool-exhaustion_test.yml"))

One test group per run: the fault run, where each alert is checked in the
middle of every stretch it was observed firing, pending or silent, and the
control run (``RUN_DIR/control/``), checked the same way, where the alerts of
the fault run were silent. ``rule_files`` names the rules the run loaded: the
source file as written at time scale 1, else a scaled copy written next to the
test (``<stem>.scale-<num>-<den>.yml``) whose header names its source and scale,
so a test harness can regenerate it from the source and test a rule change.

What an alert fired with: its labels are the ones observed (``ALERTS``). Its
annotations are templated from ``$value`` at the evaluation, which promtool
computes from the replayed samples; they are taken from promtool itself (a
first pass with labels only, whose report shows what it computed), so the
file expects exactly what promtool renders, and a rule whose annotations
change fails the test. A check where promtool's replay disagrees with what the
run observed (a transition a scrape away) is dropped and reported.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from scenarios.evidence import load_evidence
from scenarios.export.computed import check_key, computed_alerts, run_promtool
from scenarios.export.exceptions import ExportError, ExportFailed
from scenarios.export.recording import SeriesRecording, load_recording
from scenarios.export.replay import Replay, replay
from scenarios.export.rulefiles import write_rule_files
from scenarios.export.rules import AlertRule, alert_rules
from scenarios.export.series import fold
from scenarios.journal import Journal, write_atomic


@dataclass
class GroupSummary:
    kind: str
    name: str
    series: int
    checks: dict[str, int]
    firing: dict[str, int]
    dropped: list[str] = field(default_factory=list)


@dataclass
class ExportSummary:
    out: Path
    rule_files: list[Path]
    groups: list[GroupSummary]
    notes: list[str] = field(default_factory=list)


def read_journal(run_dir: Path) -> Journal:
    path = run_dir / "journal.json"
    if not path.is_file():
        raise ExportError(f"{run_dir} is not a run directory (no journal.json)")
    try:
        return Journal.model_validate_json(path.read_text())
    except (OSError, ValidationError) as exc:
        raise ExportError(f"{path} is not a chaoslab journal: {exc}") from None


# -- the test file ------------------------------------------------------------------


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g}s"


def _group(
    title: str,
    run: Replay,
    annotations: dict[tuple[str, float], list[dict[str, str]]],
    skip: set[tuple[str, float]],
) -> dict[str, object]:
    series = []
    for item in run.series:
        values = list(item.values)
        while values and values[-1] is None:
            values.pop()
        if any(v is not None for v in values):
            series.append({"series": item.selector, "values": fold(values)})
    tests: list[dict[str, object]] = []
    for check in run.checks:
        at = check.index * run.step_s
        key = check_key(check.alertname, at)
        if key in skip:
            continue
        notes = annotations.get(key, [])
        alerts: list[dict[str, object]] = []
        for position, instance in enumerate(check.firing):
            alert: dict[str, object] = {"exp_labels": dict(instance)}
            if position < len(notes) and notes[position]:
                alert["exp_annotations"] = notes[position]
            alerts.append(alert)
        tests.append(
            {"eval_time": _seconds_text(at), "alertname": check.alertname, "exp_alerts": alerts}
        )
    return {
        "name": title,
        "interval": _seconds_text(run.step_s),
        "input_series": series,
        "alert_rule_test": tests,
    }


def _document(rule_files: list[Path], interval_s: float, groups: list[dict[str, object]]) -> str:
    data = {
        "rule_files": [str(p) for p in rule_files],
        "evaluation_interval": _seconds_text(interval_s),
        "tests": groups,
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1 << 20)


def _probe(
    title: str, run: Replay, rule_files: list[Path], interval_s: float, folder: Path
) -> tuple[dict[tuple[str, float], list[dict[str, str]]], set[tuple[str, float]], list[str]]:
    """Annotations promtool computes at each firing check, and the checks it disagrees with."""
    text = _document(rule_files, interval_s, [_group(title, run, {}, set())])
    with tempfile.NamedTemporaryFile(
        "w", dir=folder, prefix=".probe-", suffix=".yml", delete=False
    ) as handle:
        handle.write(text)
    probe = Path(handle.name)
    try:
        result = run_promtool(probe)
    finally:
        probe.unlink(missing_ok=True)
    computed = computed_alerts(result.stdout + result.stderr)
    if result.returncode != 0 and not computed:
        raise ExportFailed(f"promtool could not run the replay:\n{result.stdout}{result.stderr}")
    annotations: dict[tuple[str, float], list[dict[str, str]]] = {}
    disagree: set[tuple[str, float]] = set()
    notes: list[str] = []
    for check in run.checks:
        key = check_key(check.alertname, check.index * run.step_s)
        if key not in computed:
            continue
        got = computed[key]
        got_labels = sorted(
            tuple(sorted((k, v) for k, v in labels.items() if k != "alertname"))
            for labels, _ in got
        )
        if got_labels != sorted(check.firing):
            disagree.add(key)
            notes.append(
                f"{title}: {check.alertname} at {key[1]:g}s observed {check.state} "
                f"({len(check.firing)} firing), promtool computes {len(got)} firing: check dropped"
            )
            continue
        by_labels = {
            tuple(sorted((k, v) for k, v in labels.items() if k != "alertname")): notes_
            for labels, notes_ in got
        }
        annotations[key] = [by_labels[instance] for instance in check.firing]
    return annotations, disagree, notes


def _stable(template: str) -> bool:
    """An annotation template that does not depend on the value at the evaluation."""
    return "$value" not in template and ".Value" not in template


def _against_notifications(
    run_dir: Path,
    run: Replay,
    rules: dict[str, AlertRule],
    annotations: dict[tuple[str, float], list[dict[str, str]]],
) -> tuple[int, list[str]]:
    """Compare the annotations promtool renders from labels only with what Alertmanager sent.

    Annotations templated from ``$value`` differ by the value at the evaluation
    (promtool's check is at another moment than the notification): only the
    stable ones are compared. Returns how many matched, and each mismatch.
    """
    evidence = load_evidence(run_dir)
    if evidence is None:
        return 0, []
    sent = [alert for n in evidence.notifications for alert in n.payload.alerts]
    matched, problems = 0, []
    for check in run.checks:
        rendered = annotations.get(check_key(check.alertname, check.index * run.step_s), [])
        for instance, notes in zip(check.firing, rendered, strict=False):
            labels = {**dict(instance), "alertname": check.alertname}
            notified = [a for a in sent if labels.items() <= a.labels.items()]
            if not notified:
                continue
            for key, template in rules[check.alertname].annotations.items():
                if not _stable(template) or key not in notes:
                    continue
                if notes[key] == notified[-1].annotations.get(key):
                    matched += 1
                else:
                    problems.append(
                        f"{check.alertname} annotation {key}: promtool renders {notes[key]!r}, "
                        f"Alertmanager received {notified[-1].annotations.get(key)!r}"
                    )
    return matched, problems


def _firing(run: Replay, names: set[str]) -> dict[str, int]:
    return {
        name: sum(1 for c in run.checks if c.alertname == name and c.firing)
        for name in sorted(names)
    }


def export(
    run_dir: Path, out: Path, say: Callable[[str], None] = lambda _text: None
) -> ExportSummary:
    """Write ``out`` (and the rule copies it needs next to it) from ``run_dir``."""
    journal = read_journal(run_dir)
    recording = load_recording(run_dir)
    runs: list[tuple[str, Journal, SeriesRecording]] = [("fault run", journal, recording)]
    control_dir = run_dir / "control"
    if (control_dir / "journal.json").is_file():
        runs.append(("control run", read_journal(control_dir), load_recording(control_dir)))
    rules = {
        rule.name: rule for f in recording.rule_files for rule in alert_rules(f.text, f.loaded)
    }
    names = list(rules)
    run_dir_of = {"fault run": run_dir, "control run": control_dir}
    if not names:
        raise ExportError(f"{run_dir}: the rules the run loaded define no alert")
    folder = out.parent
    folder.mkdir(parents=True, exist_ok=True)
    rule_files = write_rule_files(recording, folder)
    summary = ExportSummary(out=out, rule_files=[folder / p for p in rule_files], groups=[])
    groups: list[dict[str, object]] = []
    fired: set[str] = set()
    for kind, run_journal, run_recording in runs:
        run = replay(run_recording, names)
        if kind == "fault run":
            fired = set(run.fired)
        title = f"{journal.scenario} {kind} {run_journal.run_id}"
        say(f"  {title}: {len(run.series)} series, {len(run.checks)} checks")
        annotations, disagree, notes = _probe(
            title, run, rule_files, recording.evaluation_interval_s, folder
        )
        summary.notes.extend(notes)
        matched, mismatched = _against_notifications(run_dir_of[kind], run, rules, annotations)
        summary.notes.extend(mismatched)
        if matched:
            say(f"  {title}: {matched} annotations as Alertmanager received them")
        groups.append(_group(title, run, annotations, disagree))
        counts: dict[str, int] = {}
        for check in run.checks:
            counts[check.alertname] = counts.get(check.alertname, 0) + 1
        summary.groups.append(
            GroupSummary(
                kind,
                title,
                len(run.series),
                counts,
                _firing(run, fired),
                sorted(f"{a} at {t:g}s" for a, t in disagree),
            )
        )
        if kind == "control run":
            loud = sorted(fired & run.fired)
            if loud:
                summary.notes.append(
                    f"{', '.join(loud)} fired in the control run too (vacuous): the control "
                    "group expects what was observed"
                )
    header = (
        f"# promtool test rules for chaoslab run {journal.run_id} of scenario {journal.scenario}\n"
        f"# (started {journal.started_at.isoformat()}, rules at time scale "
        f"{journal.rule_time_scale or '1'}), written by `chaoslab export promtool`.\n"
        f"# Fired in the fault run: {', '.join(sorted(fired)) or 'none'}.\n"
        "# Run: promtool test rules " + out.name + "\n"
    )
    text = header + _document(rule_files, recording.evaluation_interval_s, groups)
    write_atomic(out, text)
    result = run_promtool(out)
    if result.returncode != 0:
        raise ExportFailed(
            f"promtool test rules fails on the exported {out}:\n{result.stdout}{result.stderr}"
        )
    return summary


__all__ = [
    "ExportSummary",
    "GroupSummary",
    "export",
    "read_journal",
]
