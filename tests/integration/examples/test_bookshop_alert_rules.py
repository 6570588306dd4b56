"""The bookshop's alert rules: promtool accepts them, their unit tests pass and can
fail, every alert has a runbook section, and scaled to lab time (1/30, 1 s
scrapes) each alert fires within 20 s of a hard fault under ~10 req/s."""

from __future__ import annotations

import re
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.alerting.timescale import scale_rule_file, scale_rules
from stack.process import run

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "bookshop"
RULES = EXAMPLE / "alerts" / "bookshop.rules.yml"
RULE_TESTS = EXAMPLE / "alerts" / "bookshop.rules.test.yml"
RUNBOOK = EXAMPLE / "RUNBOOK.md"
ALERTS = ("BookshopPricingDegraded", "BookshopDatabaseErrors", "BookshopHighErrorRatio")
LAB_SCALE = Fraction(1, 30)


def promtool(*args: str) -> tuple[int, str]:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool missing: apt-get install prometheus"
    result = run([binary, *args], capture_output=True, text=True, check=False, timeout=120)
    return result.returncode, result.stdout + result.stderr


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_promtool_check_rules_accepts_the_production_rules() -> None:
    code, output = promtool("check", "rules", str(RULES))
    assert code == 0, output
    assert f"SUCCESS: {len(ALERTS)} rules found" in output


def test_promtool_unit_tests_pass() -> None:
    code, output = promtool("test", "rules", str(RULE_TESTS))
    assert code == 0, output
    assert "SUCCESS" in output


@pytest.mark.parametrize("alert", ALERTS)
def test_unit_tests_fail_when_an_alert_never_fires(tmp_path: Path, alert: str) -> None:
    loaded = yaml.safe_load(RULES.read_text())
    for group in loaded["groups"]:
        for rule in group["rules"]:
            if rule["alert"] == alert:
                rule["expr"] = "vector(1) < 0"
    (tmp_path / RULES.name).write_text(yaml.safe_dump(loaded, sort_keys=False))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    code, output = promtool("test", "rules", str(tmp_path / RULE_TESTS.name))
    assert code != 0, output
    assert f"alertname: {alert}" in output


def test_every_alert_has_production_windows_and_a_runbook_section() -> None:
    assert [rule["alert"] for rule in rules()] == list(ALERTS)
    headings = set(re.findall(r"^## (\w+)$", RUNBOOK.read_text(), re.MULTILINE))
    for rule in rules():
        name = rule["alert"]
        assert rule["for"] == "2m", name
        assert rule["annotations"]["runbook_url"] == (
            f"examples/bookshop/RUNBOOK.md#{name.lower()}"
        )
        assert name in headings, f"RUNBOOK.md has no '## {name}' section"
        assert rule["labels"]["severity"] in {"warning", "critical"}
    # every range window is at least 1m, so at 1/30 it stays at least 2 s
    scale_rules(RULES.read_text(), Fraction(1), min_window_s=60)


def _lab_case(name: str, series: dict[str, str], firing: tuple[str, ...]) -> dict[str, Any]:
    """A fault starting after the 60 s sample: nothing fires before it, ``firing`` by 80 s."""
    checks: list[dict[str, Any]] = []
    for alert in ALERTS:
        checks.append({"eval_time": "59s", "alertname": alert, "exp_alerts": []})
        expected = (
            [{"exp_labels": {"job": "bookshop", **_labels(alert)}}] if alert in firing else []
        )
        checks.append({"eval_time": "80s", "alertname": alert, "exp_alerts": expected})
    return {
        "name": name,
        "interval": "1s",
        "input_series": [{"series": s, "values": v} for s, v in series.items()],
        "alert_rule_test": checks,
    }


def _labels(alert: str) -> dict[str, str]:
    rule = next(rule for rule in rules() if rule["alert"] == alert)
    labels: dict[str, str] = rule["labels"]
    return labels


def _healthy_requests() -> dict[str, str]:
    return {
        'bookshop_requests_total{job="bookshop", endpoint="/books/<book_id>", code="200"}': (
            "0+10x120"
        )
    }


def _pricing(le_fast: str, failures: str) -> dict[str, str]:
    bucket = 'bookshop_pricing_latency_seconds_bucket{job="bookshop", le="%s"}'
    return {
        bucket % "0.1": le_fast,
        bucket % "0.5": le_fast,
        bucket % "1": "0+6x120",
        bucket % "+Inf": "0+6x120",
        'bookshop_pricing_latency_seconds_count{job="bookshop"}': "0+6x120",
        'bookshop_pricing_failures_total{job="bookshop", reason="connect"}': failures,
    }


def test_scaled_to_lab_time_every_alert_fires_within_20_s_of_a_fault(tmp_path: Path) -> None:
    scaled = tmp_path / "bookshop.rules.scaled.yml"
    scale_rule_file(RULES, scaled, LAB_SCALE, scrape_interval_s=1.0)
    loaded = yaml.safe_load(scaled.read_text())
    windows = set(re.findall(r"\[(\w+)\]", scaled.read_text()))
    assert windows == {"10s"}, windows
    for group in loaded["groups"]:
        for rule in group["rules"]:
            assert rule["for"] == "4s", rule
            # $value-based text differs run to run; this test is about timing
            del rule["annotations"]
    scaled.write_text(yaml.safe_dump(loaded, sort_keys=False))

    db_down = {
        'bookshop_db_errors_total{job="bookshop", operation="get_book"}': "0x60 8+8x60",
        'bookshop_requests_total{job="bookshop", endpoint="/books/<book_id>", code="200"}': (
            "0+10x60 600x60"
        ),
        'bookshop_requests_total{job="bookshop", endpoint="/books/<book_id>", code="503"}': (
            "0x60 8+8x60"
        ),
    }
    pricing_down = {
        **_pricing("0+6x120", "0x60 6+6x60"),
        'bookshop_requests_total{job="bookshop", endpoint="/books/<book_id>", code="200"}': (
            "0+10x60 600+4x60"
        ),
        'bookshop_requests_total{job="bookshop", endpoint="/books/<book_id>", code="502"}': (
            "0x60 6+6x60"
        ),
    }
    pricing_slow = {**_pricing("0+6x60 360x60", "0x120"), **_healthy_requests()}
    tests = {
        "rule_files": [scaled.name],
        "evaluation_interval": "1s",
        "tests": [
            _lab_case(
                "PostgreSQL down",
                db_down,
                ("BookshopDatabaseErrors", "BookshopHighErrorRatio"),
            ),
            _lab_case(
                "pricing refuses connections",
                pricing_down,
                ("BookshopPricingDegraded", "BookshopHighErrorRatio"),
            ),
            _lab_case("pricing answers in 0.5-1 s", pricing_slow, ("BookshopPricingDegraded",)),
            _lab_case("healthy", {**_pricing("0+6x120", "0x120"), **_healthy_requests()}, ()),
        ],
    }
    test_file = tmp_path / "lab-time.test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    code, output = promtool("test", "rules", str(test_file))
    assert code == 0, output
