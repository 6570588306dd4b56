"""The generated ``prometheus.yml``: its shape, and ``promtool check config`` accepts it.

``promtool`` comes with Debian's ``prometheus`` package; without it these tests
fail (they never skip) and say what to install.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from stack.alerting import ALERT_RULES, PrometheusConfig, PrometheusServer
from stack.exceptions import BinaryNotFound, ComponentFailed


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
        tmp_path, {"target": "127.0.0.1:8000"}, [ALERT_RULES], alertmanager="127.0.0.1:9093"
    )
    path = server.write_config()  # raises ComponentFailed if promtool rejects it
    assert path == tmp_path / "prometheus.yml"
    assert yaml.safe_load(path.read_text())["rule_files"] == [str(ALERT_RULES)]


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
