"""Target profiles: every static problem is rejected with file, line and reason (exit 2).

Each case starts from a profile that validates and breaks one thing, so a
case can only pass because of that one thing. Problems that only a start can
reveal (an unreachable url, a command that exits at once, a metrics path
that is missing) are in ``tests/integration/test_profile_rejected.py``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scenarios.cli import main
from scenarios.exceptions import ScenarioInvalid
from scenarios.loader import load
from scenarios.profiles import load_profile
from stack.profile import DEFAULT_PROFILE, default_profile, settings_env

GOOD_RULES = """\
groups:
  - name: shop
    rules:
      - alert: ShopErrors
        expr: sum(rate(shop_errors_total[5m])) > 1
        for: 2m
"""

GOOD = """\
name: shop
service: shop
command: ["${python}", "-m", "http.server", "--bind", "${host}", "${port}"]
env:
  SHOP_DB: ${dep.db.dsn}
  SHOP_API: ${dep.api.url}
  SENTRY_DSN: ${sentry_dsn}
health: {ready: /}
metrics: [/metrics]
dependencies:
  db: {kind: postgres}
  api: {kind: http, upstream: "127.0.0.1:9"}
rules:
  files: [rules.yml]
  time_scale: 1/30
load:
  locustfile: locustfile.py
"""

SCENARIO = """\
name: shop-api-slow
title: Shop API slow
target: {profile: shop.yaml}
load: {users: 2, duration: 30s}
faults:
  - id: api-slow
    kind: toxic
    target: api
    toxic: latency
    attributes: {latency: 500}
    at: 5s
    duration: 10s
expectations:
  - id: errors
    kind: alert
    alert: ShopErrors
    window: {fault: api-slow, within: 20s}
"""


def write(folder: Path, profile: str = GOOD, rules: str = GOOD_RULES) -> Path:
    (folder / "rules.yml").write_text(rules)
    (folder / "locustfile.py").write_text("from locust import HttpUser\n")
    path = folder / "shop.yaml"
    path.write_text(textwrap.dedent(profile))
    return path


def rejected(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """``chaoslab validate`` on ``path`` exits 2; its error output."""
    assert main(["validate", str(path)]) == 2
    return capsys.readouterr().err


def line_of(path: Path, needle: str) -> int:
    lines = path.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if needle in text)


def test_the_good_profile_and_its_scenario_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = write(tmp_path)
    scenario = tmp_path / "api-slow.yaml"
    scenario.write_text(SCENARIO)
    assert main(["validate", str(profile), str(scenario)]) == 0
    out = capsys.readouterr().out
    assert "target profile shop, 2 dependencies, rules at time scale 1/30" in out
    assert "target shop" in out
    assert load(scenario).profile.name == "shop"


def test_the_bundled_profile_validates_and_every_catalog_scenario_runs_on_it() -> None:
    profile = load_profile(DEFAULT_PROFILE)
    assert profile.name == "documents"
    assert profile.rule_paths()[0].name == "alerts.yml"
    settings = settings_env(profile.settings, {"pool_max": 3})
    assert settings["TARGET_POOL_MAX"] == "3"


@pytest.mark.parametrize(
    ("change", "needle", "message"),
    [
        # 1. a placeholder that does not exist
        (
            ("SENTRY_DSN: ${sentry_dsn}", "SENTRY_DSN: ${sentry_url}"),
            "SENTRY_DSN",
            "unknown placeholder ${sentry_url}",
        ),
        # 2. a placeholder naming a dependency the profile does not have
        (
            ("SHOP_API: ${dep.api.url}", "SHOP_API: ${dep.payments.url}"),
            "SHOP_API",
            "unknown dependency 'payments'",
        ),
        # 3. a dsn of a dependency that is not PostgreSQL
        (
            ("SHOP_API: ${dep.api.url}", "SHOP_API: ${dep.api.dsn}"),
            "SHOP_API",
            "only a postgres dependency has a dsn",
        ),
        # 4. both url and command
        (
            ("service: shop", "service: shop\nurl: http://127.0.0.1:8000"),
            "name: shop",
            "give either url",
        ),
        # 5. no metrics path at all
        (("metrics: [/metrics]", "metrics: []"), "metrics:", "at least 1 item"),
        # 6. a metrics path that is not a path
        (("metrics: [/metrics]", "metrics: [metrics]"), "metrics:", ""),
        # 7. a missing rule file
        (("files: [rules.yml]", "files: [nope.yml]"), "files:", "rule file"),
        # 8. a missing locustfile
        (("locustfile: locustfile.py", "locustfile: gone.py"), "locustfile:", "does not exist"),
        # 9. a program that is not installed
        (('command: ["${python}"', 'command: ["no-such-server"'), "command:", "not found on PATH"),
        # 10. a tcp dependency with nowhere to connect
        (
            ('api: {kind: http, upstream: "127.0.0.1:9"}', "api: {kind: http}"),
            "api:",
            "needs upstream",
        ),
        # 11. a time scale above 1
        (("time_scale: 1/30", "time_scale: 3"), "time_scale", "at most 1"),
        # 12. a time scale that is not a number
        (("time_scale: 1/30", "time_scale: fast"), "time_scale", "not a number"),
        # 13. a key the format does not have
        (("health: {ready: /}", "health: {ready: /, startup: /s}"), "health:", "Extra inputs"),
        # 14. a key given twice
        (("service: shop", "service: shop\nservice: other"), "service: other", "duplicate key"),
        # 15. a dependency the lab starts cannot reach another through its proxy...
        (
            (
                'api: {kind: http, upstream: "127.0.0.1:9"}',
                'api:\n    kind: http\n    command: ["${python}", "-m", "http.server", "${port}"]'
                "\n    env:\n      API_DB: ${dep.db.dsn}",
            ),
            "API_DB",
            "${dep.db.dsn} is not available to a dependency",
        ),
        # 16. ...nor Bugsink (both start later)
        (
            (
                'api: {kind: http, upstream: "127.0.0.1:9"}',
                'api:\n    kind: http\n    command: ["${python}", "-m", "http.server", "${port}"]'
                "\n    env:\n      API_SENTRY: ${sentry_dsn}",
            ),
            "API_SENTRY",
            "${sentry_dsn} is not available to a dependency",
        ),
    ],
)
def test_a_broken_profile_is_rejected_with_its_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, str],
    needle: str,
    message: str,
) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    err = rejected(path, capsys)
    assert f"{path}:{line_of(path, needle)}:" in err, err
    assert message in err, err


def test_a_rule_file_promtool_rejects_is_rejected_with_promtool_s_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = GOOD_RULES.replace("expr: sum(", "expr: summ(")
    path = write(tmp_path, rules=broken)
    err = rejected(path, capsys)
    assert f"{path}:{line_of(path, 'files:')}:" in err, err
    assert "summ" in err, err


def test_a_time_scale_that_makes_a_window_shorter_than_two_scrapes_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, rules=GOOD_RULES.replace("[5m]", "[30s]"))
    err = rejected(path, capsys)  # [30s] / 30 = 1 s: shorter than two 1 s scrapes
    assert f"{path}:{line_of(path, 'files:')}:" in err, err
    assert "shorter than the minimum 2s (two scrape intervals)" in err, err


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        # a fault on a dependency the profile does not have
        ("    target: api\n", "has no dependency 'payments'"),
        # a fault-switch fault on a service without the switch API
        ("kind: app\n    switches: {slow_query_s: 1}\n", "does not implement the fault-switch API"),
        # a process fault on a service the lab does not start
        ("kind: process\n    target: api\n", "the lab did not start 'api'"),
        # a db_lock on a PostgreSQL the lab cannot open sessions on
        ("kind: db_lock\n    target: api\n", "no PostgreSQL dependency 'api'"),
    ],
)
def test_a_fault_the_profile_cannot_take_is_rejected_at_the_fault(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: str, message: str
) -> None:
    write(tmp_path)
    text = SCENARIO
    if fault.startswith("    target: api"):
        text = text.replace("    target: api\n", "    target: payments\n")
    else:
        start = text.index("kind: toxic")
        end = text.index("    at: 5s")
        text = text[:start] + fault + text[end:]
    scenario = tmp_path / "broken.yaml"
    scenario.write_text(text)
    err = rejected(scenario, capsys)
    assert f"{scenario}:{line_of(scenario, '- id: api-slow')}:" in err, err
    assert message in err, err


def test_a_setting_the_profile_does_not_have_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "pool.yaml"
    scenario.write_text(
        "name: pool\ntitle: Pool\ntarget:\n  pool_maxx: 3\nload: {users: 1, duration: 10s}\n"
        "expectations:\n  - {id: e, kind: sentry, absent: true}\n"
    )
    err = rejected(scenario, capsys)
    assert f"{scenario}:4:" in err, err
    assert "unknown setting pool_maxx" in err, err
    assert "settings: connect_timeout_s" in err, err


def test_a_setting_out_of_its_bounds_is_rejected() -> None:
    profile = default_profile()
    with pytest.raises(ValueError, match="at most 500"):
        settings_env(profile.settings, {"pool_max": 501})
    with pytest.raises(ValueError, match="whole number"):
        settings_env(profile.settings, {"pool_max": 2.5})


def test_a_broken_profile_makes_its_scenario_invalid_too(tmp_path: Path) -> None:
    write(tmp_path, GOOD.replace("${sentry_dsn}", "${nope}"))
    scenario = tmp_path / "api-slow.yaml"
    scenario.write_text(SCENARIO)
    with pytest.raises(ScenarioInvalid) as raised:
        load(scenario)
    text = str(raised.value)
    assert f"{scenario}:3: target profile" in text
    assert "unknown placeholder ${nope}" in text
