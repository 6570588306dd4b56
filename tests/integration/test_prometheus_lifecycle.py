"""Prometheus as a real process: loopback only, reload, clear failures, and
nothing left behind after stop."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import httpx
import pytest

from stack.alerting import PrometheusServer
from stack.exceptions import ComponentFailed, RuleScaleError
from stack.ports import is_listening
from stack.process import pid_alive

pytestmark = pytest.mark.integration


def rules_file(path: Path, *alerts: str, expr: str = "vector(0) > 1") -> Path:
    rules = "".join(f"      - alert: {name}\n        expr: {expr}\n" for name in alerts)
    path.write_text(f"groups:\n  - name: lab\n    rules:\n{rules}")
    return path


def loaded_alerts(prometheus: PrometheusServer) -> set[str]:
    response = httpx.get(prometheus.url + "/api/v1/rules", timeout=5)
    response.raise_for_status()
    return {rule["name"] for group in response.json()["data"]["groups"] for rule in group["rules"]}


def listening_addresses(pid: int) -> list[str]:
    """Local addresses of the TCP sockets ``pid`` listens on (from ``ss -ltnpH``)."""
    output = subprocess.run(
        ["ss", "-ltnpH"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    return [line.split()[3] for line in output.splitlines() if f"pid={pid}," in line]


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_serves_on_loopback_only_with_status_attributes(tmp_path: Path) -> None:
    rules = rules_file(tmp_path / "rules.yml", "Quiet")
    with PrometheusServer(tmp_path / "prom", {}, [rules]) as prometheus:
        assert prometheus.healthy()
        assert prometheus.start_time is not None
        assert listening_addresses(prometheus.pid) == [prometheus.address]
        assert prometheus.url == f"http://127.0.0.1:{prometheus.port}"


def test_reload_picks_up_rule_changes_and_refuses_broken_ones(tmp_path: Path) -> None:
    rules = rules_file(tmp_path / "rules.yml", "First")
    with PrometheusServer(tmp_path / "prom", {}, [rules]) as prometheus:
        assert loaded_alerts(prometheus) == {"First"}

        rules_file(rules, "First", "Second")
        prometheus.reload()
        deadline = time.monotonic() + 15
        while loaded_alerts(prometheus) != {"First", "Second"} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert loaded_alerts(prometheus) == {"First", "Second"}

        rules_file(rules, "Third", expr="up ==")
        with pytest.raises(ComponentFailed, match="promtool rejected") as info:
            prometheus.reload()
        assert info.value.component == "prometheus"
        assert loaded_alerts(prometheus) == {"First", "Second"}
        assert prometheus.healthy()


def alert_durations(prometheus: PrometheusServer) -> dict[str, float]:
    """``for:`` of each loaded alerting rule, in seconds, as Prometheus reports it."""
    response = httpx.get(prometheus.url + "/api/v1/rules", timeout=5)
    response.raise_for_status()
    return {
        rule["name"]: rule["duration"]
        for group in response.json()["data"]["groups"]
        for rule in group["rules"]
    }


def test_reload_rescales_edited_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: lab\n    rules:\n"
        "      - alert: Slow\n        expr: rate(up[5m]) < 0\n        for: 5m\n"
    )
    scale = Fraction(1, 30)
    with PrometheusServer(tmp_path / "prom", {}, [rules], rule_time_scale=scale) as prometheus:
        assert prometheus.rule_time_scale == scale
        [copy] = prometheus.loaded_rule_files
        assert copy.parent == prometheus.rules_dir
        assert alert_durations(prometheus) == {"Slow": 10}

        rules.write_text(rules.read_text().replace("for: 5m", "for: 10m"))
        prometheus.reload()
        deadline = time.monotonic() + 15
        while alert_durations(prometheus) != {"Slow": 20} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alert_durations(prometheus) == {"Slow": 20}

        rules.write_text(rules.read_text().replace("[5m]", "[30s]"))  # 1 s in the lab
        with pytest.raises(RuleScaleError, match="two scrape intervals"):
            prometheus.reload()
        assert alert_durations(prometheus) == {"Slow": 20}
        assert "rate(up[10s])" in copy.read_text()  # what the server runs, untouched
        assert prometheus.healthy()


def test_a_scale_too_small_for_the_windows_starts_nothing(tmp_path: Path) -> None:
    rules = rules_file(tmp_path / "rules.yml", "Fast", expr="rate(up[30s]) < 0")
    server = PrometheusServer(tmp_path / "prom", {}, [rules], rule_time_scale=Fraction(1, 30))
    with pytest.raises(RuleScaleError, match=r"window up\[1s\] would be 1s .*two scrape intervals"):
        server.start()
    assert server.process is None


def test_busy_port_fails_naming_prometheus_with_its_log(tmp_path: Path, busy_port: int) -> None:
    server = PrometheusServer(tmp_path, {}, [], port=busy_port)
    with pytest.raises(ComponentFailed) as info:
        server.start()
    assert info.value.component == "prometheus"
    assert "address already in use" in info.value.log_tail
    assert not server.running()


def test_bad_config_fails_before_anything_starts(tmp_path: Path) -> None:
    broken = rules_file(tmp_path / "broken.yml", "Broken", expr="rate(up[")
    server = PrometheusServer(tmp_path / "prom", {"target": "127.0.0.1:9"}, [broken])
    with pytest.raises(ComponentFailed, match="promtool rejected") as info:
        server.start()
    assert info.value.component == "prometheus"
    assert "broken.yml" in info.value.log_tail
    assert server.process is None


def test_after_stop_the_process_is_gone_and_the_port_free(tmp_path: Path) -> None:
    with PrometheusServer(tmp_path, {}, []) as prometheus:
        pid, port = prometheus.pid, prometheus.port
        assert pid_alive(pid)
        assert is_listening(port)
    assert not pid_alive(pid)
    assert not is_listening(port)
    assert not prometheus.healthy()
    prometheus.stop()  # idempotent
