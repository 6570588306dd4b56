"""The catalog's incidents as promtool tests: ``compose/prometheus/tests/incidents/``.

One file per catalog scenario, each exported by ``chaoslab export promtool``
from a real run with ``--control``. Every file is run against the rules as
they are now: its scaled rule copy is generated again from
``compose/prometheus/alerts.yml`` (:func:`scenarios.export.rulefiles.staged`),
so a rule change that would have missed an incident, or paged in its control
run, fails here. Each rule that fired in an incident is also broken three ways
(threshold past the peak, ``for:`` longer than the fault, a label it keys on
dropped); promtool must fail every one of them.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from scenarios.export.computed import run_promtool
from scenarios.export.rulefiles import staged
from scenarios.export.rules import alert_rules
from scenarios.loader import catalog
from tests.unit.promtool_mutations import (
    Mutation,
    drop_label,
    keyed_label,
    lengthen_for,
    raise_threshold,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
INCIDENTS = REPO_ROOT / "compose" / "prometheus" / "tests" / "incidents"
FILES = sorted(INCIDENTS.glob("*_test.yml"))


def _document(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _groups(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    groups = _document(path)["tests"]
    fault = next(g for g in groups if " fault run " in g["name"])
    control = next(g for g in groups if " control run " in g["name"])
    return fault, control


def test_one_incident_per_catalog_scenario() -> None:
    assert {p.name.removesuffix("_test.yml") for p in FILES} == set(catalog())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name.removesuffix("_test.yml"))
def test_incident_passes_against_todays_rules(path: Path, tmp_path: Path) -> None:
    fault, control = _groups(path)
    assert fault["alert_rule_test"], "no check in the fault run"
    assert control["alert_rule_test"], "no check in the control run"
    assert all(t["exp_alerts"] == [] for t in control["alert_rule_test"]), "control must be silent"
    result = run_promtool(staged(path, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_all_incidents_in_one_promtool_run(tmp_path: Path) -> None:
    tests = [staged(path, tmp_path) for path in FILES]
    started = time.monotonic()
    result = run_promtool(*tests)  # one invocation over every file, as CI would run them
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(FILES)
    print(f"promtool test rules: {len(tests)} incident files in {elapsed:.2f} s")


def _mutations() -> list[tuple[Path, str, str, Mutation]]:
    cases: list[tuple[Path, str, str, Mutation]] = []
    for path in FILES:
        fault, _ = _groups(path)
        rules_name = _document(path)["rule_files"][0]
        rules = {r.name: r for r in alert_rules((path.parent / rules_name).read_text())}
        fired = {t["alertname"]: t for t in fault["alert_rule_test"] if t["exp_alerts"]}
        for name, test in sorted(fired.items()):
            label = keyed_label(rules[name].expr, test["exp_alerts"][0]["exp_labels"])
            cases += [
                (path, name, "threshold past the peak", raise_threshold),
                (path, name, "for: longer than the fault", lengthen_for),
                (path, name, f"label {label} dropped", drop_label(label)),
            ]
    return cases


def test_every_mutation_of_a_fired_rule_fails_its_incident(tmp_path: Path) -> None:
    cases = _mutations()
    assert cases, "no incident fired any alert"
    staged_files = []
    for index, (path, name, _what, mutate) in enumerate(cases):
        folder = tmp_path / str(index)
        folder.mkdir()
        test_file = staged(path, folder)
        rules = folder / _document(test_file)["rule_files"][0]
        rules.write_text(mutate(rules.read_text(), name))
        staged_files.append(test_file)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        results = list(pool.map(run_promtool, staged_files))
    survived = [
        f"{path.name}: {name}, {what}: promtool still passes"
        for (path, name, what, _), result in zip(cases, results, strict=True)
        if result.returncode == 0
    ]
    assert not survived, "\n".join(survived)
    print(f"{len(cases)} mutations, {len(cases) - len(survived)} failed promtool as they must")


def test_the_committed_scaled_rules_are_todays(tmp_path: Path) -> None:
    """promtool run straight on the folder (any CI, no chaoslab) reads the committed copy:
    it must be what the lab loads from today's alerts.yml (regenerate: docs/promtool.md)."""
    for path in FILES:
        for name in _document(path)["rule_files"]:
            committed = INCIDENTS / name
            if not committed.name.startswith("alerts.scale-"):
                continue
            regenerated = tmp_path / Path(name).name
            staged(path, tmp_path)
            assert yaml.safe_load(committed.read_text()) == yaml.safe_load(
                regenerated.read_text()
            ), f"{committed} is stale: chaoslab export rules {INCIDENTS.relative_to(REPO_ROOT)}"
