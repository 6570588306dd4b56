"""The alert rules in ``compose/prometheus/alerts.yml`` are valid, tested and documented.

``promtool`` (Debian package ``prometheus``) does the PromQL work: ``check rules``
validates the file and ``test rules`` runs the unit tests in
``compose/prometheus/tests/alerts_test.yml``. The Python checks keep the file honest
about its contract: the seven alerts the scenarios rely on exist, each carries a
severity, a summary, a description and a runbook that exists in the repository, each
is covered by a firing and a non-firing promtool case, and every quiet case fails
under the mutation it guards against (a quiet case that cannot fail proves nothing).

The file is written in production windows and the lab loads it at
``BUNDLED_RULE_SCALE`` (1/30): scaled, every rule must have exactly the lab-time
windows and ``for:`` listed in :data:`LAB_TIME`, the ones the scenarios' detection
budgets were measured with.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import promql_parser as pp
import pytest
import yaml

from stack.alerting import ALERT_RULES, BUNDLED_RULE_SCALE, scale_expr, scale_rules
from stack.alerting.timescale import durations

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
LAB_SCRAPE_INTERVAL_S = 1

# What the lab runs, per alert, once the production file is scaled by 1/30:
# every duration of the expr in tree order (ranges, subquery range/step,
# offsets) and `for:`. These are the windows the file had when it was written
# in lab time; the scenarios' detection budgets were measured with them.
LAB_TIME: Mapping[str, tuple[tuple[str, ...], str]] = {
    "DatabasePoolSaturated": (("10s",), "5s"),
    "DatabasePoolWaiters": ((), "10s"),
    "HighLatencyP99": (("30s", "30s"), "10s"),
    "HighErrorRate": (("30s", "30s", "30s"), "10s"),
    "ExceptionStorm": (("30s",), "5s"),
    "DownstreamSlow": (("30s", "30s", "30s"), "10s"),
    "TargetDown": ((), "10s"),
}

PROMTOOL_TIMEOUT_S = 60

_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_JOB_SELECTOR = re.compile(r'\bjob\s*=~?\s*"[^"]+"')


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


def _durations(expr: str) -> tuple[str, ...]:
    """Every range, subquery range and step, and offset in ``expr``, in tree order."""
    return tuple(pp.display_duration(d) for d in durations(expr))


def _rules_of(text: str) -> dict[str, Mapping[str, object]]:
    document = yaml.safe_load(text)
    return {
        str(rule["alert"]): rule
        for group in document["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


@pytest.fixture(scope="module")
def lab_copy() -> str:
    """The rule file as the lab loads it (what PrometheusServer writes, minus the header)."""
    return scale_rules(
        ALERTS_FILE.read_text(), BUNDLED_RULE_SCALE, min_window_s=2 * LAB_SCRAPE_INTERVAL_S
    )


def test_the_bundled_rules_are_the_file_the_stack_loads() -> None:
    assert ALERT_RULES == ALERTS_FILE
    assert Fraction(1, 30) == BUNDLED_RULE_SCALE


def test_scaled_to_lab_time_every_window_is_what_the_lab_always_ran(lab_copy: str) -> None:
    """Production windows times 1/30 give back exactly the lab-time windows of LAB_TIME."""
    production, lab = _rules_of(ALERTS_FILE.read_text()), _rules_of(lab_copy)
    assert set(production) == set(lab) == set(LAB_TIME)
    problems: list[str] = []
    for name, (windows, for_) in LAB_TIME.items():
        scaled = lab[name]
        got = (_durations(str(scaled["expr"])), str(scaled.get("for")))
        if got != (windows, for_):
            problems.append(f"{name}: lab time {got}, want {(windows, for_)}")
        # Only durations changed: scaled back up, the expr is the production one.
        back = scale_expr(str(scaled["expr"]), 1 / BUNDLED_RULE_SCALE)
        if back != scale_expr(str(production[name]["expr"]), Fraction(1)):
            problems.append(f"{name}: scaled expr differs in more than its durations: {back}")
        if "keep_firing_for" in scaled:
            problems.append(f"{name}: keep_firing_for is not in LAB_TIME")
        rest = {k: v for k, v in production[name].items() if k not in ("expr", "for")}
        if rest != {k: v for k, v in scaled.items() if k not in ("expr", "for")}:
            problems.append(f"{name}: labels or annotations changed by scaling")
    groups = yaml.safe_load(lab_copy)["groups"]
    problems.extend(f"group {g['name']}: sets interval:" for g in groups if "interval" in g)
    assert not problems, "\n".join(problems)


def test_every_alert_is_lab_speed_once_scaled(lab_copy: str) -> None:
    problems: list[str] = []
    for name, rule in _rules_of(lab_copy).items():
        if rule.get("for") is None:
            problems.append(f"{name}: no `for:`; a single bad scrape would page")
        elif _seconds(str(rule["for"])) > MAX_FOR_SECONDS:
            problems.append(f"{name}: for: {rule['for']} exceeds {MAX_FOR_SECONDS}s in the lab")
        problems.extend(
            f"{name}: window [{window}] exceeds {MAX_RANGE_SECONDS}s in the lab"
            for window in _durations(str(rule["expr"]))
            if _seconds(window) > MAX_RANGE_SECONDS
        )
    assert not problems, "\n".join(problems)


def test_every_alert_selects_its_job(alert_rules: tuple[AlertRule, ...]) -> None:
    problems = [
        f"{rule.name}: expr selects no job (target and classifier share names)"
        for rule in alert_rules
        if not _JOB_SELECTOR.search(rule.expr)
    ]
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


# -- every quiet case can fail ------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """A change to one alert that a quiet case exists to catch: promtool must then fail it.

    ``replace`` pairs are substituted (every occurrence) in the alert's expr;
    ``for_`` and ``keep_firing_for`` overwrite the rule's (production time).
    """

    guards: str
    replace: tuple[tuple[str, str], ...] = ()
    for_: str | None = None
    keep_firing_for: str | None = None


# A firing case fails whenever the alert does not fire as expected. A quiet
# case passes just as well when its series never match the rule or its
# eval_time misses the moment that matters; so each one names the guard it
# tests, and removing that guard must make promtool fail it.
PENDING = Mutation("`for:` (the alert is still pending)", for_="0s")
API_ONLY = Mutation("the /api/ route filter", (('route=~"/api/.*"', 'route=~".*"'),))
QUIET_CASE_MUTATIONS: Mapping[tuple[str, str], tuple[Mutation, ...]] = {
    ("TargetDown fires after 5 minutes of failed scrapes", "2m30s"): (
        Mutation("up == 0 (the target is still up)", (("== 0", "== 1"),), for_="0s"),
    ),
    ("TargetDown fires after 5 minutes of failed scrapes", "9m"): (PENDING,),
    ("TargetDown ignores a scrape blip shorter than for", "7m"): (PENDING,),
    ("TargetDown ignores a scrape blip shorter than for", "15m"): (
        Mutation("`for:` outlasting the blip", for_="0s", keep_firing_for="10m"),
    ),
    ("DatabasePoolSaturated fires when 10 of 10 connections stay checked out", "30m"): (
        Mutation("the 90% threshold (2 of 10 in use)", ((">= 0.9", ">= 0.1"),), for_="0s"),
    ),
    ("DatabasePoolSaturated fires when 10 of 10 connections stay checked out", "36m"): (PENDING,),
    ("DatabasePoolSaturated stays quiet at 80% and with an uninitialised pool", "50m"): (
        Mutation("the 90% threshold", ((">= 0.9", ">= 0.8"),)),
        Mutation(
            "the `> 0` guard on a zero maximum",
            (('db_pool_max{job="target"} > 0', 'db_pool_max{job="target"}'),),
        ),
    ),
    ("DatabasePoolSaturated ignores a 90 s burst to 100%", "32m30s"): (
        Mutation("the 5m average", (("avg_over_time", "max_over_time"),), for_="0s"),
    ),
    ("DatabasePoolSaturated ignores a 90 s burst to 100%", "40m"): (
        Mutation(
            "the 5m average",
            (("avg_over_time", "max_over_time"),),
            for_="0s",
            keep_firing_for="10m",
        ),
    ),
    ("DatabasePoolWaiters fires when callers queue for 5 minutes", "30m"): (
        Mutation("`> 0` (nobody waiting yet)", (("> 0", ">= 0"),), for_="0s"),
    ),
    ("DatabasePoolWaiters fires when callers queue for 5 minutes", "34m"): (PENDING,),
    ("DatabasePoolWaiters ignores a 150 s queue that drains", "17m"): (PENDING,),
    ("DatabasePoolWaiters ignores a 150 s queue that drains", "30m"): (
        Mutation("`for:` outlasting the queue", for_="0s", keep_firing_for="15m"),
    ),
    ("HighLatencyP99 fires for the slow route only", "30m"): (
        Mutation("the 1 s threshold (every route fast)", (("> 1", "> 0.01"),), for_="0s"),
    ),
    ("HighLatencyP99 fires for the slow route only", "34m"): (PENDING,),
    ("HighLatencyP99 stays quiet just under 1 s and for a lone slow request", "50m"): (
        Mutation("the 1 s threshold", (("> 1", "> 0.9"),)),
        Mutation("the 0.2 req/s traffic floor", (("> 0.2", "> 0"),)),
    ),
    ("HighLatencyP99 ignores a slow readiness probe", "50m"): (API_ONLY,),
    ("HighErrorRate fires when 2 of 12 req/s are 503", "30m"): (
        Mutation("the 5% threshold (no errors yet)", (("> 0.05", ">= 0"),), for_="0s"),
    ),
    ("HighErrorRate fires when 2 of 12 req/s are 503", "38m"): (PENDING,),
    ("HighErrorRate stays quiet at 2.5% errors", "50m"): (
        Mutation("the 5% threshold", (("> 0.05", "> 0.02"),)),
    ),
    ("HighErrorRate ignores health probes answering 503", "50m"): (API_ONLY,),
    ("HighErrorRate stays quiet under the traffic floor and with no traffic", "50m"): (
        Mutation("the 0.5 req/s traffic floor", (("> 0.5", "> 0"),)),
    ),
    ("ExceptionStorm fires on 5 TimeoutError per second", "15m"): (
        Mutation("the 0.5/s threshold (a 0.1/s trickle)", (("> 0.5", "> 0.05"),), for_="0s"),
    ),
    ("ExceptionStorm fires on 5 TimeoutError per second", "18m"): (PENDING,),
    ("ExceptionStorm stays quiet at 0.4 exceptions per second", "50m"): (
        Mutation("the 0.5/s threshold", (("> 0.5", "> 0.3"),)),
    ),
    ("DownstreamSlow fires on p95 latency", "30m"): (
        Mutation("the 0.5 s threshold (calls still fast)", (("> 0.5", "> 0.1"),), for_="0s"),
    ),
    ("DownstreamSlow fires on p95 latency", "34m"): (PENDING,),
    ("DownstreamSlow stays quiet with p95 under 0.5 s and 0.5% timeouts", "50m"): (
        Mutation("the 0.5 s p95 threshold", (("> 0.5", "> 0.45"),)),
        Mutation("the 1% timeout threshold", (("> 0.01", "> 0.001"),)),
    ),
}


@dataclass(frozen=True)
class QuietCase:
    """One quiet ``alert_rule_test`` entry and the test that holds it."""

    test: Mapping[str, object]
    case: Mapping[str, object]

    @property
    def key(self) -> tuple[str, str]:
        return str(self.test["name"]), str(self.case["eval_time"])


def _quiet_cases() -> dict[tuple[str, str], QuietCase]:
    document = _load_yaml(ALERTS_TEST_FILE)
    found: dict[tuple[str, str], QuietCase] = {}
    for test_obj in _as_list(document.get("tests"), "tests"):
        test = _as_mapping(test_obj, "test")
        for case_obj in _as_list(test.get("alert_rule_test", []), "alert_rule_test"):
            case = _as_mapping(case_obj, "case")
            if not case.get("exp_alerts"):
                quiet = QuietCase(test, case)
                assert quiet.key not in found, f"two quiet cases at {quiet.key}"
                found[quiet.key] = quiet
    return found


def _mutated_rules(alertname: str, mutation: Mutation) -> str:
    document = yaml.safe_load(ALERTS_FILE.read_text())
    [rule] = [r for g in document["groups"] for r in g["rules"] if r.get("alert") == alertname]
    for old, new in mutation.replace:
        assert old in rule["expr"], f"{alertname}: {old!r} is not in its expr"
        rule["expr"] = rule["expr"].replace(old, new)
    if mutation.for_ is not None:
        rule["for"] = mutation.for_
    if mutation.keep_firing_for is not None:
        rule["keep_firing_for"] = mutation.keep_firing_for
    return yaml.safe_dump(document, sort_keys=False, width=1 << 20)


def _single_case_file(quiet: QuietCase, rules: Path) -> str:
    """A promtool test file holding only ``quiet`` (with its series), against ``rules``."""
    document = dict(_load_yaml(ALERTS_TEST_FILE))
    test = {k: copy.deepcopy(v) for k, v in quiet.test.items() if k != "promql_expr_test"}
    test["alert_rule_test"] = [dict(quiet.case)]
    document.update(rule_files=[str(rules)], tests=[test])
    return yaml.safe_dump(document, sort_keys=False, width=1 << 20)


def test_every_quiet_case_names_the_guard_it_tests() -> None:
    quiet = set(_quiet_cases())
    missing = sorted(quiet - set(QUIET_CASE_MUTATIONS))
    unknown = sorted(set(QUIET_CASE_MUTATIONS) - quiet)
    assert not missing, f"quiet cases without a mutation in QUIET_CASE_MUTATIONS: {missing}"
    assert not unknown, f"QUIET_CASE_MUTATIONS entries with no such quiet case: {unknown}"


def test_every_quiet_case_fails_without_its_guard(tmp_path: Path) -> None:
    """Alone it passes; with its guard mutated away, promtool fails it."""
    promtool = _promtool()
    quiet_cases = _quiet_cases()
    runs: list[tuple[str, Path, bool]] = []  # (what, test file, should pass)
    for index, (key, mutations) in enumerate(sorted(QUIET_CASE_MUTATIONS.items())):
        quiet = quiet_cases[key]
        alertname = str(quiet.case["alertname"])
        control = tmp_path / f"{index}-control.yml"
        control.write_text(_single_case_file(quiet, ALERTS_FILE))
        runs.append((f"{key} alone", control, True))
        for number, mutation in enumerate(mutations):
            rules = tmp_path / f"{index}-{number}-rules.yml"
            rules.write_text(_mutated_rules(alertname, mutation))
            mutated = tmp_path / f"{index}-{number}-test.yml"
            mutated.write_text(_single_case_file(quiet, rules))
            runs.append((f"{key} without {mutation.guards}", mutated, False))

    def passes(path: Path) -> bool:
        result = subprocess.run(
            [promtool, "test", "rules", str(path)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=PROMTOOL_TIMEOUT_S,
            check=False,
        )
        return result.returncode == 0

    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        outcomes = list(pool.map(passes, [path for _, path, _ in runs]))
    problems = [
        f"{what}: promtool {'failed' if should_pass else 'still passes'} ({path.name})"
        for (what, path, should_pass), passed in zip(runs, outcomes, strict=True)
        if passed != should_pass
    ]
    assert not problems, "\n".join(problems)


def test_kebab_case_helper() -> None:
    assert _kebab("DatabasePoolSaturated") == "database-pool-saturated"
    assert _kebab("HighLatencyP99") == "high-latency-p99"
    assert _kebab("TargetDown") == "target-down"


def test_duration_helper() -> None:
    assert _seconds("30s") == 30
    assert _seconds("1m30s") == 90
    assert _seconds("500ms") == 0.5
