"""The alert rules in ``compose/prometheus/alerts.yml`` are valid, tested and documented.

``promtool`` (Debian package ``prometheus``) does the PromQL work: ``check rules``
validates the file and ``test rules`` runs the unit tests in
``compose/prometheus/tests/alerts_test.yml``. The Python checks keep the file honest
about its contract: the seven alerts the scenarios rely on exist, each carries a
severity, a summary, a description and a runbook that exists in the repository, each
is covered by a firing and a non-firing promtool case, and none drifts to
production-speed windows that would miss a scenario's detection budget.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO_ROOT / "compose" / "prometheus"
ALERTS_FILE = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST_FILE = PROMETHEUS_DIR / "tests" / "alerts_test.yml"

REQUIRED_ALERTS = frozenset(
    {
        "DatabasePoolSaturated",
        "DatabasePoolWaiters",
        "HighLatencyP99",
        "HighErrorRate",
        "DownstreamSlow",
        "ExceptionStorm",
        "TargetDown",
    }
)
SEVERITIES = frozenset({"critical", "warning", "info"})
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")

# Lab speed: scrape and evaluation every 1 s, detection well under a minute.
MAX_RANGE_SECONDS = 30
MAX_FOR_SECONDS = 15

PROMTOOL_TIMEOUT_S = 60

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_JOB_SELECTOR = re.compile(r'\bjob\s*=~?\s*"[^"]+"')
_RANGE_SELECTOR = re.compile(r"\[([0-9a-z]+)(?::[0-9a-z]*)?\]")


@dataclass(frozen=True)
class AlertRule:
    """One alerting rule as written in the rule file."""

    name: str
    group: str
    expr: str
    for_: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


@dataclass(frozen=True)
class AlertCase:
    """One ``alert_rule_test`` entry of the promtool test file."""

    test_name: str
    alertname: str
    eval_time: str
    fires: bool


def _as_mapping(value: object, where: str) -> Mapping[str, object]:
    assert isinstance(value, dict), f"{where}: expected a mapping, got {type(value).__name__}"
    return {str(k): v for k, v in value.items()}


def _as_list(value: object, where: str) -> list[object]:
    assert isinstance(value, list), f"{where}: expected a list, got {type(value).__name__}"
    return list(value)


def _str_mapping(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    return {k: str(v) for k, v in _as_mapping(value, where).items()}


def _load_yaml(path: Path) -> Mapping[str, object]:
    assert path.is_file(), f"{path.relative_to(REPO_ROOT)} is missing"
    return _as_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def _iter_alert_rules() -> Iterator[AlertRule]:
    document = _load_yaml(ALERTS_FILE)
    for group_obj in _as_list(document.get("groups"), "groups"):
        group = _as_mapping(group_obj, "group")
        group_name = str(group.get("name"))
        for rule_obj in _as_list(group.get("rules"), f"group {group_name} rules"):
            rule = _as_mapping(rule_obj, f"rule in {group_name}")
            if "alert" not in rule:
                continue  # a recording rule
            name = str(rule["alert"])
            for_value = rule.get("for")
            yield AlertRule(
                name=name,
                group=group_name,
                expr=str(rule.get("expr", "")),
                for_=None if for_value is None else str(for_value),
                labels=_str_mapping(rule.get("labels"), f"{name}.labels"),
                annotations=_str_mapping(rule.get("annotations"), f"{name}.annotations"),
            )


def _iter_alert_cases() -> Iterator[AlertCase]:
    document = _load_yaml(ALERTS_TEST_FILE)
    for test_obj in _as_list(document.get("tests"), "tests"):
        test = _as_mapping(test_obj, "test")
        test_name = str(test.get("name", "<unnamed>"))
        for case_obj in _as_list(test.get("alert_rule_test", []), f"{test_name} alert_rule_test"):
            case = _as_mapping(case_obj, f"case in {test_name}")
            exp_alerts = _as_list(case.get("exp_alerts") or [], f"{test_name} exp_alerts")
            yield AlertCase(
                test_name=test_name,
                alertname=str(case.get("alertname")),
                eval_time=str(case.get("eval_time")),
                fires=bool(exp_alerts),
            )


def _seconds(duration: str) -> float:
    """Parse a Prometheus duration such as ``30s``, ``1m30s`` or ``500ms``."""
    parts = _DURATION_PART.findall(duration)
    assert parts, f"not a Prometheus duration: {duration!r}"
    assert "".join(n + u for n, u in parts) == duration, f"not a Prometheus duration: {duration!r}"
    return sum(int(n) * _DURATION_UNITS[u] for n, u in parts)


def _kebab(name: str) -> str:
    """``HighLatencyP99`` -> ``high-latency-p99``: the runbook file name of an alert."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


@pytest.fixture(scope="module")
def alert_rules() -> tuple[AlertRule, ...]:
    return tuple(_iter_alert_rules())


@pytest.fixture(scope="module")
def alert_cases() -> tuple[AlertCase, ...]:
    return tuple(_iter_alert_cases())


def _promtool() -> str:
    """Locate promtool; its absence fails the test (never skips it)."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is not on PATH: install the Debian package `prometheus` "
            "(apt-get install prometheus; the Makefile installs it). "
            "The alert rules cannot be validated without it.",
            pytrace=False,
        )
    return path


def _run_promtool(*args: str) -> None:
    command = [_promtool(), *args]
    result = subprocess.run(
        command,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=PROMTOOL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"`{' '.join(command[1:])}` exited {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def test_promtool_check_rules() -> None:
    _run_promtool("check", "rules", str(ALERTS_FILE.relative_to(REPO_ROOT)))


def test_promtool_unit_tests() -> None:
    _run_promtool("test", "rules", str(ALERTS_TEST_FILE.relative_to(REPO_ROOT)))


def test_required_alerts_exist(alert_rules: tuple[AlertRule, ...]) -> None:
    names = [rule.name for rule in alert_rules]
    missing = REQUIRED_ALERTS - set(names)
    assert not missing, f"alerts.yml lacks required alerts: {sorted(missing)}"
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert not duplicates, f"alert names defined more than once: {duplicates}"


def test_every_alert_has_severity_and_annotations(alert_rules: tuple[AlertRule, ...]) -> None:
    problems: list[str] = []
    for rule in alert_rules:
        severity = rule.labels.get("severity")
        if severity not in SEVERITIES:
            problems.append(
                f"{rule.name}: labels.severity={severity!r}, want one of {sorted(SEVERITIES)}"
            )
        problems.extend(
            f"{rule.name}: annotations.{key} is missing or empty"
            for key in REQUIRED_ANNOTATIONS
            if not rule.annotations.get(key, "").strip()
        )
    assert not problems, "\n".join(problems)


def test_every_runbook_url_exists_in_repo(alert_rules: tuple[AlertRule, ...]) -> None:
    problems: list[str] = []
    for rule in alert_rules:
        url = rule.annotations.get("runbook_url", "")
        expected = f"docs/runbooks/{_kebab(rule.name)}.md"
        if url != expected:
            problems.append(f"{rule.name}: runbook_url={url!r}, want {expected!r}")
        if not (REPO_ROOT / url).is_file():
            problems.append(f"{rule.name}: runbook {url!r} does not exist in the repository")
    assert not problems, "\n".join(problems)


def test_every_alert_is_lab_speed(alert_rules: tuple[AlertRule, ...]) -> None:
    problems: list[str] = []
    for rule in alert_rules:
        if not _JOB_SELECTOR.search(rule.expr):
            problems.append(f"{rule.name}: expr selects no job (target and classifier share names)")
        if rule.for_ is None:
            problems.append(f"{rule.name}: no `for:`; a single bad scrape would page")
        elif _seconds(rule.for_) > MAX_FOR_SECONDS:
            problems.append(f"{rule.name}: for: {rule.for_} exceeds {MAX_FOR_SECONDS}s")
        for window in _RANGE_SELECTOR.findall(rule.expr):
            if _seconds(window) > MAX_RANGE_SECONDS:
                problems.append(f"{rule.name}: range [{window}] exceeds {MAX_RANGE_SECONDS}s")
    assert not problems, "\n".join(problems)


def test_every_alert_has_firing_and_quiet_promtool_cases(
    alert_rules: tuple[AlertRule, ...], alert_cases: tuple[AlertCase, ...]
) -> None:
    problems: list[str] = []
    for rule in alert_rules:
        cases = [case for case in alert_cases if case.alertname == rule.name]
        if not any(case.fires for case in cases):
            problems.append(f"{rule.name}: no promtool case where it fires")
        if not any(not case.fires for case in cases):
            problems.append(f"{rule.name}: no promtool case where it stays quiet")
    known = {rule.name for rule in alert_rules}
    problems.extend(
        f"test {case.test_name!r} at {case.eval_time} checks unknown alert {case.alertname!r}"
        for case in alert_cases
        if case.alertname not in known
    )
    assert not problems, "\n".join(problems)


def test_kebab_case_helper() -> None:
    assert _kebab("DatabasePoolSaturated") == "database-pool-saturated"
    assert _kebab("HighLatencyP99") == "high-latency-p99"
    assert _kebab("TargetDown") == "target-down"


def test_duration_helper() -> None:
    assert _seconds("30s") == 30
    assert _seconds("1m30s") == 90
    assert _seconds("500ms") == 0.5
