"""The generated ``prometheus.yml``: its shape, and ``promtool check config`` accepts it.

Also the rule time scale: the server writes scaled copies of its rule files
and points the config at them, or refuses a scale that is out of range or
would leave a window shorter than two scrape intervals.

``promtool`` comes with Debian's ``prometheus`` package; without it these tests
fail (they never skip) and say what to install.
"""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from stack.alerting import ALERT_RULES, BUNDLED_RULE_SCALE, PrometheusConfig, PrometheusServer
from stack.exceptions import BinaryNotFound, ComponentFailed, RuleScaleError

RULES = """\
groups:
  - name: g
    rules:
      - alert: Slow
        expr: rate(x[5m]) > 0 unless y offset -10m
        for: 10m
        keep_firing_for: 1m
"""


def require_promtool() -> None:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is not installed: apt-get install prometheus (Debian package)")


def lab_config(rule_files: tuple[Path, ...] = (ALERT_RULES,)) -> PrometheusConfig:
    return PrometheusConfig(
        scrape_targets={"target": "127.0.0.1:8000", "classifier": "127.0.0.1:8001"},
        rule_files=rule_files,
        alertmanager="127.0.0.1:9093",
    )


def test_global_intervals_are_lab_speed() -> None:
    document = yaml.safe_load(lab_config().to_yaml())
    assert document["global"]["scrape_interval"] == "1s"
    assert document["global"]["evaluation_interval"] == "1s"
    assert document["global"]["scrape_timeout"] == "1s"


def test_every_job_scrapes_metrics_of_its_loopback_target() -> None:
    document = yaml.safe_load(lab_config().to_yaml())
    jobs = {
        scrape["job_name"]: (scrape["metrics_path"], scrape["static_configs"][0]["targets"])
        for scrape in document["scrape_configs"]
    }
    assert jobs == {
        "target": ("/metrics", ["127.0.0.1:8000"]),
        "classifier": ("/metrics", ["127.0.0.1:8001"]),
    }


def test_rule_files_are_absolute_paths_and_alertmanager_is_set() -> None:
    relative = Path("compose/prometheus/alerts.yml")
    document = yaml.safe_load(lab_config(rule_files=(relative,)).to_yaml())
    assert document["rule_files"] == [str(relative.resolve())]
    assert Path(document["rule_files"][0]).is_absolute()
    alertmanagers = document["alerting"]["alertmanagers"]
    assert alertmanagers == [{"static_configs": [{"targets": ["127.0.0.1:9093"]}]}]


def test_no_alerting_section_without_alertmanager() -> None:
    config = PrometheusConfig(scrape_targets={"target": "127.0.0.1:8000"})
    assert "alerting" not in yaml.safe_load(config.to_yaml())


def test_scrape_timeout_longer_than_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="scrape_timeout_s"):
        PrometheusConfig(scrape_targets={}, scrape_interval_s=1, scrape_timeout_s=2)


def test_promtool_accepts_the_generated_config_with_the_lab_rules(tmp_path: Path) -> None:
    require_promtool()
    server = PrometheusServer(
        tmp_path,
        {"target": "127.0.0.1:8000"},
        [ALERT_RULES],
        alertmanager="127.0.0.1:9093",
        rule_time_scale=BUNDLED_RULE_SCALE,
    )
    path = server.write_config()  # raises ComponentFailed if promtool rejects it
    assert path == tmp_path / "prometheus.yml"
    copy = tmp_path.resolve() / "rules" / "0-alerts.yml"
    assert server.loaded_rule_files == (copy,)
    assert server.rule_files == (ALERT_RULES,)
    assert server.rule_time_scale == Fraction(1, 30)
    assert yaml.safe_load(path.read_text())["rule_files"] == [str(copy)]
    target_down = next(
        rule
        for group in yaml.safe_load(copy.read_text())["groups"]
        for rule in group["rules"]
        if rule["alert"] == "TargetDown"
    )
    assert target_down["for"] == "10s"  # `for: 5m` in production time


def test_at_scale_one_the_config_points_at_the_rule_files_themselves(tmp_path: Path) -> None:
    require_promtool()
    rules = tmp_path / "team.yml"
    rules.write_text(RULES)
    server = PrometheusServer(tmp_path / "prom", {}, [rules])
    path = server.write_config()
    assert server.rule_time_scale == 1
    assert server.loaded_rule_files == server.rule_files == (rules.resolve(),)
    assert yaml.safe_load(path.read_text())["rule_files"] == [str(rules.resolve())]
    assert not server.rules_dir.exists()


def test_scaled_copies_carry_every_duration_scaled(tmp_path: Path) -> None:
    require_promtool()
    first, second = tmp_path / "a" / "team.yml", tmp_path / "b" / "team.yml"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text(RULES)
    server = PrometheusServer(
        tmp_path / "prom", {}, [first, second], rule_time_scale=Fraction(1, 10)
    )
    server.write_config()
    copies = server.loaded_rule_files
    assert [copy.name for copy in copies] == ["0-team.yml", "1-team.yml"]
    for copy, source in zip(copies, (first, second), strict=True):
        text = copy.read_text()
        assert text.startswith(f"# Generated by chaoslab from {source.resolve()}")
        [rule] = yaml.safe_load(text)["groups"][0]["rules"]
        assert rule["expr"] == "rate(x[30s]) > 0 unless y offset -1m"
        assert (rule["for"], rule["keep_firing_for"]) == ("1m", "6s")
    assert sorted(server.rules_dir.iterdir()) == list(copies)  # no staging left behind


def test_write_config_rescales_edited_sources_and_drops_stale_copies(tmp_path: Path) -> None:
    require_promtool()
    rules = tmp_path / "team.yml"
    rules.write_text(RULES)
    server = PrometheusServer(tmp_path / "prom", {}, [rules], rule_time_scale=Fraction(1, 10))
    server.rules_dir.mkdir(parents=True)
    (server.rules_dir / "7-old.yml").write_text("groups: []\n")
    server.write_config()
    rules.write_text(RULES.replace("for: 10m", "for: 20m"))
    server.write_config()  # what reload() does before POST /-/reload
    [copy] = server.loaded_rule_files
    assert yaml.safe_load(copy.read_text())["groups"][0]["rules"][0]["for"] == "2m"
    assert list(server.rules_dir.iterdir()) == [copy]


def test_a_window_shorter_than_two_scrape_intervals_is_refused(tmp_path: Path) -> None:
    require_promtool()
    rules = tmp_path / "team.yml"
    rules.write_text(RULES)
    server = PrometheusServer(tmp_path / "prom", {}, [rules], rule_time_scale=Fraction(1, 10))
    server.write_config()
    [copy] = server.loaded_rule_files
    before = copy.read_text()
    # 5m at 1/200 is 1.5 s, under the 2 s of two 1 s scrape intervals
    refusing = PrometheusServer(tmp_path / "prom", {}, [rules], rule_time_scale=Fraction(1, 200))
    with pytest.raises(RuleScaleError) as info:
        refusing.write_config()
    message = str(info.value)
    assert str(rules.resolve()) in message
    assert "alert 'Slow'" in message
    assert "x[1s500ms]" in message
    assert "two scrape intervals" in message
    assert copy.read_text() == before  # the copy a running server loaded is untouched


def test_a_rule_file_the_scaler_cannot_parse_is_a_rule_scale_error(tmp_path: Path) -> None:
    require_promtool()
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: g\n    rules:\n      - alert: B\n        expr: up ==\n")
    server = PrometheusServer(tmp_path / "prom", {}, [broken], rule_time_scale=BUNDLED_RULE_SCALE)
    with pytest.raises(RuleScaleError, match=r"alert 'B'.*cannot parse"):
        server.write_config()
    assert not server.config_path.exists()


@pytest.mark.parametrize("scale", [Fraction(0), Fraction(-1, 30), Fraction(2)])
def test_a_scale_outside_zero_to_one_is_refused(tmp_path: Path, scale: Fraction) -> None:
    with pytest.raises(RuleScaleError, match="greater than 0 and at most 1"):
        PrometheusServer(tmp_path, {}, [ALERT_RULES], rule_time_scale=scale)


def test_promtool_rejection_is_component_failed_with_its_output(tmp_path: Path) -> None:
    require_promtool()
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: up ==\n"
    )
    server = PrometheusServer(tmp_path / "prom", {"target": "127.0.0.1:8000"}, [broken])
    with pytest.raises(ComponentFailed) as info:
        server.write_config()
    assert info.value.component == "prometheus"
    assert "promtool" in info.value.reason
    assert "broken.yml" in info.value.log_tail


def test_missing_prometheus_binary_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    server = PrometheusServer(tmp_path, {"target": "127.0.0.1:8000"})
    with pytest.raises(BinaryNotFound, match="apt-get install prometheus") as info:
        server.start()
    assert info.value.binary == "prometheus"
    assert server.process is None
