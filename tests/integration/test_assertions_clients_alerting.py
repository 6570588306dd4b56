"""Prometheus, Alertmanager and webhook-record clients against the real processes.

Prometheus scrapes itself and evaluates one always-firing rule, Alertmanager
routes it to the lab's webhook receiver: every client sees the same alert.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from assertions import (
    AlertingRule,
    AlertmanagerClient,
    MatrixResult,
    NotificationLogClient,
    PrometheusClient,
    QueryError,
    VectorResult,
)
from stack.alerting import AlertmanagerServer, AlertWebhook, PrometheusServer
from stack.ports import LOOPBACK, free_port
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration


RULES = """\
groups:
  - name: assertions-it
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        # Pending first: Prometheus's notify discovery publishes the Alertmanager
        # target about 5 s after start; an alert firing before then is dropped
        # and resent only after --rules.alert.resend-delay (1 min by default).
        for: 8s
        labels:
          severity: test
        annotations:
          summary: always firing
"""


@dataclass
class Alerting:
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer
    webhook: AlertWebhook
    started: datetime


@pytest.fixture(scope="module")
def alerting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alerting]:
    root = tmp_path_factory.mktemp("alerting")
    rules = root / "rules.yml"
    rules.write_text(RULES)
    started = datetime.now(UTC)
    port = free_port()  # Prometheus scrapes itself
    webhook = AlertWebhook(root / "webhook")
    alertmanager = AlertmanagerServer(root / "alertmanager", webhook.receiver_url)
    prometheus = PrometheusServer(
        root / "prometheus",
        scrape_targets={"prometheus": f"{LOOPBACK}:{port}"},
        rule_files=(rules,),
        alertmanager=alertmanager.address,
        port=port,
    )
    with webhook, alertmanager, prometheus:
        yield Alerting(prometheus, alertmanager, webhook, started)


def test_queries(alerting: Alerting) -> None:
    prom = PrometheusClient(alerting.prometheus.url)

    def up() -> list[float]:
        result = prom.query('up{job="prometheus"}')
        assert isinstance(result, VectorResult)
        return [series.value for series in result.series]

    assert eventually(up, timeout=30) == [1.0]

    now = datetime.now(UTC)
    matrix = prom.query_range("vector(1)", now - timedelta(seconds=5), now, step=1)
    assert isinstance(matrix, MatrixResult)
    assert len(matrix.series[0].samples) == 6

    with pytest.raises(QueryError) as caught:
        prom.query("sum(rate(")
    assert caught.value.error_type == "bad_data"
    assert caught.value.query == "sum(rate("


def test_alert_in_prometheus(alerting: Alerting) -> None:
    prom = PrometheusClient(alerting.prometheus.url)

    alerts = eventually(
        lambda: [a for a in prom.alerts() if a.name == "AlwaysFiring" and a.firing], timeout=30
    )

    assert alerts[0].labels["severity"] == "test"
    rule = prom.alerting_rule("AlwaysFiring")
    assert isinstance(rule, AlertingRule)
    assert rule.query == "vector(1)"
    assert rule.health == "ok"


def test_alert_in_alertmanager_and_notified(alerting: Alerting) -> None:
    am = AlertmanagerClient(alerting.alertmanager.url)
    log = NotificationLogClient(alerting.webhook.url)

    active = eventually(lambda: am.alerts(matchers=['alertname="AlwaysFiring"']), timeout=30)
    notified = eventually(
        lambda: log.alerts("AlwaysFiring", "firing", since=alerting.started), timeout=30
    )

    assert active[0].active
    assert active[0].labels["severity"] == "test"
    received_at, alert = notified[0]
    assert received_at >= alerting.started
    assert alert.ends_at is None
    assert am.status().version_info.version
    assert log.notifications(since=datetime.now(UTC) + timedelta(hours=1)) == []


def test_unknown_matcher_finds_nothing(alerting: Alerting) -> None:
    am = AlertmanagerClient(alerting.alertmanager.url)
    assert am.alerts(matchers=['alertname="NeverDefined"']) == []
