"""End to end on real processes: target → Prometheus → Alertmanager → webhook.

PostgreSQL, the classifier and the target service run for real; Prometheus
scrapes the target as job ``target`` every second and evaluates
``compose/prometheus/alerts.yml`` at the lab's rule time scale (production
windows times 1/30, so ``TargetDown``'s ``for: 5m`` runs as 10 s); Alertmanager
routes to the lab's webhook.
Stopping the target must make ``TargetDown`` fire, reach Alertmanager and be
recorded by the webhook, and nothing about TargetDown may exist before.

The tests share one stack (module scope) and run in file order: the last one
stops the target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from stack import apps
from stack.alerting import (
    ALERT_RULES,
    BUNDLED_RULE_SCALE,
    AlertmanagerServer,
    AlertWebhook,
    Notification,
    PrometheusServer,
)
from stack.postgres import PostgresCluster

pytestmark = pytest.mark.integration

T = TypeVar("T")
FIRE_DEADLINE_S = 40.0


@dataclass
class Pipeline:
    target: apps.AppProcess
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer
    webhook: AlertWebhook


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    state = tmp_path_factory.mktemp("alerting")
    with (
        PostgresCluster(log_dir=state / "logs") as postgres,
        apps.classifier(state / "logs") as classifier,
        apps.target(
            state / "logs",
            {"TARGET_DSN": postgres.dsn(), "TARGET_DOWNSTREAM_URL": classifier.url},
        ) as target,
        AlertWebhook(state / "webhook") as webhook,
        AlertmanagerServer(state / "alertmanager", webhook.receiver_url) as alertmanager,
        PrometheusServer(
            state / "prometheus",
            {"target": f"127.0.0.1:{target.port}", "classifier": f"127.0.0.1:{classifier.port}"},
            [ALERT_RULES],
            alertmanager=alertmanager.address,
            rule_time_scale=BUNDLED_RULE_SCALE,
        ) as prometheus,
    ):
        yield Pipeline(target, prometheus, alertmanager, webhook)


def poll(fetch: Callable[[], T], done: Callable[[T], bool], timeout: float) -> T:
    """Call ``fetch`` until ``done`` accepts its result or ``timeout`` passes; the last result."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)


def query(prometheus: PrometheusServer, expr: str) -> list[dict[str, Any]]:
    response = httpx.get(prometheus.url + "/api/v1/query", params={"query": expr}, timeout=5)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def prometheus_alerts(prometheus: PrometheusServer, name: str) -> list[dict[str, Any]]:
    response = httpx.get(prometheus.url + "/api/v1/alerts", timeout=5)
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()["data"]["alerts"]
    return [alert for alert in alerts if alert["labels"]["alertname"] == name]


def alertmanager_alerts(alertmanager: AlertmanagerServer, name: str) -> list[dict[str, Any]]:
    response = httpx.get(
        alertmanager.url + "/api/v2/alerts", params={"filter": f'alertname="{name}"'}, timeout=5
    )
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()
    return alerts


def target_down_rule(prometheus: PrometheusServer) -> dict[str, Any]:
    response = httpx.get(prometheus.url + "/api/v1/rules", params={"type": "alert"}, timeout=5)
    response.raise_for_status()
    for group in response.json()["data"]["groups"]:
        for rule in group["rules"]:
            if rule["name"] == "TargetDown":
                found: dict[str, Any] = rule
                return found
    raise AssertionError("TargetDown is not loaded")


def firing_target_down(notifications: list[Notification]) -> list[Notification]:
    return [n for n in notifications if n.alerts_named("TargetDown", "firing")]


def test_target_is_up(pipeline: Pipeline) -> None:
    result = poll(
        lambda: query(pipeline.prometheus, 'up{job="target"}'),
        lambda r: bool(r) and r[0]["value"][1] == "1",
        timeout=20,
    )
    assert [series["value"][1] for series in result] == ["1"], result
    assert result[0]["metric"]["instance"] == f"127.0.0.1:{pipeline.target.port}"


def test_http_requests_total_appears_after_a_request(pipeline: Pipeline) -> None:
    expr = 'http_requests_total{job="target", route="/api/documents"}'
    assert query(pipeline.prometheus, expr) == []
    response = httpx.get(pipeline.target.url + "/api/documents", timeout=10)
    assert response.status_code == 200, response.text
    result = poll(lambda: query(pipeline.prometheus, expr), bool, timeout=20)
    assert result, f"{expr} never appeared"
    assert float(result[0]["value"][1]) >= 1


def test_the_seven_lab_alerts_are_loaded(pipeline: Pipeline) -> None:
    expected = {
        rule["alert"]
        for group in yaml.safe_load(ALERT_RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    response = httpx.get(pipeline.prometheus.url + "/api/v1/rules", timeout=5)
    loaded = {
        rule["name"]
        for group in response.json()["data"]["groups"]
        for rule in group["rules"]
        if rule["type"] == "alerting"
    }
    assert len(expected) == 7
    assert loaded == expected


def test_the_rules_are_loaded_at_the_lab_time_scale(pipeline: Pipeline) -> None:
    """Prometheus runs the scaled copy: TargetDown's `for: 5m` as 10 s, [15m] as [30s]."""
    [copy] = pipeline.prometheus.loaded_rule_files
    assert copy.parent == pipeline.prometheus.rules_dir
    response = httpx.get(pipeline.prometheus.url + "/api/v1/rules", timeout=5)
    groups = response.json()["data"]["groups"]
    assert [group["file"] for group in groups] == [str(copy)]
    rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
    assert rules["TargetDown"]["duration"] == 10
    assert "[30s]" in rules["HighErrorRate"]["query"]
    assert "[15m]" not in rules["HighErrorRate"]["query"]


def test_target_down_fires_and_is_notified_only_after_the_target_stops(
    pipeline: Pipeline,
) -> None:
    # Control: with the target up, the rule is evaluated and quiet, nothing is notified.
    rule = poll(
        lambda: target_down_rule(pipeline.prometheus),
        lambda r: r["health"] == "ok" and not r["lastEvaluation"].startswith("0001"),
        timeout=20,
    )
    assert rule["state"] == "inactive", rule
    assert prometheus_alerts(pipeline.prometheus, "TargetDown") == []
    assert alertmanager_alerts(pipeline.alertmanager, "TargetDown") == []
    assert firing_target_down(pipeline.webhook.notifications()) == []

    stopped_at = datetime.now(UTC)
    pipeline.target.stop()

    firing = poll(
        lambda: [
            a
            for a in prometheus_alerts(pipeline.prometheus, "TargetDown")
            if a["state"] == "firing"
        ],
        bool,
        timeout=FIRE_DEADLINE_S,
    )
    assert firing, f"TargetDown not firing {FIRE_DEADLINE_S:.0f} s after the target stopped"
    assert firing[0]["labels"]["job"] == "target"

    in_alertmanager = poll(
        lambda: alertmanager_alerts(pipeline.alertmanager, "TargetDown"), bool, timeout=15
    )
    assert in_alertmanager, "TargetDown never reached Alertmanager"
    assert in_alertmanager[0]["status"]["state"] == "active"
    assert in_alertmanager[0]["labels"]["instance"] == f"127.0.0.1:{pipeline.target.port}"

    notified = poll(lambda: firing_target_down(pipeline.webhook.notifications()), bool, timeout=15)
    assert notified, "the webhook recorded no firing TargetDown notification"
    first = notified[0]
    assert first.received_at >= stopped_at
    assert first.payload.receiver == "chaoslab-webhook"
    assert first.payload.group_labels == {"alertname": "TargetDown"}
    # The file on disk says the same as the HTTP listing.
    assert firing_target_down(pipeline.webhook.recorded()) == notified
    print(
        f"TargetDown notified {(first.received_at - stopped_at).total_seconds():.1f} s after stop"
    )
