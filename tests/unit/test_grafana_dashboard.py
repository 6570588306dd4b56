"""The Grafana dashboard as code: the JSON in sync, queries that parse, provisioning to match."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stack.alerting.timescale import parse_promql
from stack.grafana import dashboard
from stack.grafana.dashboard import (
    DASHBOARD_PATH,
    JAEGER_UID,
    PANELS,
    PROMETHEUS_UID,
    PanelSpec,
    TracePanel,
    build,
    render,
)

COMPOSE = Path(__file__).resolve().parents[2] / "compose"
DATASOURCES = COMPOSE / "grafana" / "provisioning" / "datasources" / "datasources.yml"
PROVIDERS = COMPOSE / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"

REGENERATE = "regenerate it with `uv run python -m stack.grafana` and commit the result"

# What an on-call engineer must find on the dashboard (PanelSpec.signal).
REQUIRED_SIGNALS = {
    "request_rate",
    "error_rate",
    "latency",
    "pool_connections",
    "pool_waiting",
    "pool_acquire",
    "query_duration",
    "downstream_latency",
    "exceptions",
    "health_check_duration",
    "alerts",
}


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    return build()


def panels(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in model["panels"] if p["type"] != "row"]


def datasource_uids(model: dict[str, Any]) -> set[str]:
    """Every datasource uid the dashboard refers to: panels, targets, annotations."""
    refs = [p.get("datasource") for p in model["panels"]]
    refs += [t.get("datasource") for p in model["panels"] for t in p.get("targets", [])]
    refs += [a.get("datasource") for a in model["annotations"]["list"]]
    return {ref["uid"] for ref in refs if ref is not None and ref.get("type") != "grafana"}


def test_the_committed_json_is_what_build_produces() -> None:
    assert DASHBOARD_PATH.exists(), f"{DASHBOARD_PATH} is missing: {REGENERATE}"
    committed = DASHBOARD_PATH.read_text()
    assert json.loads(committed) == build(), f"{DASHBOARD_PATH} differs from build(): {REGENERATE}"
    assert committed == render(), f"{DASHBOARD_PATH} is not formatted as render(): {REGENERATE}"


def test_main_writes_the_rendered_json(tmp_path: Path) -> None:
    out = tmp_path / "dashboards" / "chaoslab.json"
    dashboard.main(["--out", str(out)])
    assert out.read_text() == render()


def test_every_panel_has_a_target_and_every_promql_parses(model: dict[str, Any]) -> None:
    for panel in panels(model):
        targets = panel.get("targets", [])
        assert targets, f"panel {panel['title']!r} has no query"
        ref_ids = [t["refId"] for t in targets]
        assert len(set(ref_ids)) == len(ref_ids), f"{panel['title']!r}: duplicate refIds"
        for target in targets:
            if target["datasource"]["uid"] != PROMETHEUS_UID:
                continue
            expr = target["expr"]
            assert "$" not in expr, f"{panel['title']!r}: template variable in {expr!r}"
            try:
                parse_promql(expr)
            except ValueError as exc:
                pytest.fail(f"panel {panel['title']!r}: {expr!r} does not parse: {exc}")


def test_every_query_of_the_target_filters_its_job(model: dict[str, Any]) -> None:
    for panel in panels(model):
        for target in panel.get("targets", []):
            expr = target.get("expr")
            if expr is not None and not expr.startswith("ALERTS"):
                assert 'job="target"' in expr, f"{panel['title']!r}: {expr!r}"


def test_every_datasource_uid_is_provisioned(model: dict[str, Any]) -> None:
    provisioned = yaml.safe_load(DATASOURCES.read_text())
    by_uid = {ds["uid"]: ds for ds in provisioned["datasources"]}
    used = datasource_uids(model)
    assert used == {PROMETHEUS_UID, JAEGER_UID}
    assert used <= by_uid.keys(), f"used {sorted(used)}, provisioned {sorted(by_uid)}"
    assert by_uid[PROMETHEUS_UID]["type"] == "prometheus"
    assert by_uid[PROMETHEUS_UID]["url"] == "http://prometheus:9090"
    assert by_uid[JAEGER_UID]["type"] == "jaeger"
    assert by_uid[JAEGER_UID]["url"] == "http://jaeger:16686"
    # Each panel's datasource type matches the provisioned one of its uid.
    for panel in panels(model):
        ref = panel["datasource"]
        assert by_uid[ref["uid"]]["type"] == ref["type"], panel["title"]


def test_the_dashboard_provider_reads_the_mounted_directory() -> None:
    providers = yaml.safe_load(PROVIDERS.read_text())["providers"]
    (provider,) = providers
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_the_panels_cover_the_required_signals(model: dict[str, Any]) -> None:
    signals = {p.signal for p in PANELS if isinstance(p, PanelSpec | TracePanel)}
    missing = REQUIRED_SIGNALS - signals
    assert not missing, f"no panel for {sorted(missing)}"
    exprs = " ".join(t.get("expr", "") for p in panels(model) for t in p.get("targets", []))
    for metric in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "db_pool_size",
        "db_pool_in_use",
        "db_pool_idle",
        "db_pool_waiting",
        "db_pool_max",
        "db_pool_acquire_seconds_bucket",
        "db_query_duration_seconds_bucket",
        "downstream_request_duration_seconds_bucket",
        "app_exceptions_total",
        "health_check_duration_seconds_bucket",
        'ALERTS{alertstate="firing"}',
    ):
        assert metric in exprs, f"no panel queries {metric}"
    for q in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({q}, sum by (le) (rate(http_request_duration" in exprs


def test_panels_do_not_overlap_and_fit_the_grid(model: dict[str, Any]) -> None:
    cells: set[tuple[int, int]] = set()
    ids = [p["id"] for p in model["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in model["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps another panel"
                cells.add((x, y))
