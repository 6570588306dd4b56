"""Alertmanager v2 API and the webhook record, on responses recorded from real Alertmanager 0.25."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from assertions import AlertmanagerClient, NotificationLogClient
from assertions.alertmanager import WebhookAlert, iso8601
from tests.unit.recorded.replay import Replay, dig_list, dig_str, recorded


def test_active_alerts() -> None:
    replay = Replay("alertmanager_alerts")
    am = AlertmanagerClient("http://alertmanager.test", transport=replay.transport)

    alerts = am.alerts()

    storm = next(a for a in alerts if a.name == "ExceptionStorm")
    assert storm.active
    assert storm.status.silenced_by == []
    assert [r.name for r in storm.receivers] == ["lab"]
    assert storm.labels["severity"] == "critical"
    assert storm.ends_at is not None
    assert storm.ends_at > storm.starts_at
    recorded_storm = next(
        a for a in dig_list(recorded("alertmanager_alerts").body) if "ExceptionStorm" in str(a)
    )
    assert storm.fingerprint == dig_str(recorded_storm, "fingerprint")
    assert storm.generator_url.startswith("http")


def test_alert_filters_are_sent_as_alertmanager_parameters() -> None:
    replay = Replay("alertmanager_alerts")
    am = AlertmanagerClient("http://alertmanager.test", transport=replay.transport)

    am.alerts(matchers=['alertname="ExceptionStorm"', 'severity="critical"'], silenced=False,
              receiver="lab")  # fmt: skip

    params = replay.last.url.params
    assert params.get_list("filter") == ['alertname="ExceptionStorm"', 'severity="critical"']
    assert params["silenced"] == "false"
    assert params["active"] == "true"
    assert params["receiver"] == "lab"


def test_resolved_alerts_are_gone_from_the_api() -> None:
    replay = Replay("alertmanager_alerts_after")
    am = AlertmanagerClient("http://alertmanager.test", transport=replay.transport)
    assert not [a for a in am.alerts() if a.name == "ExceptionStorm" and a.active]


def test_status() -> None:
    replay = Replay("alertmanager_status")
    am = AlertmanagerClient("http://alertmanager.test", transport=replay.transport)

    status = am.status()

    assert status.cluster.status == "disabled"
    assert status.version_info.version == "0.25.0"
    assert "webhook_configs" in status.config.original
    assert status.uptime.tzinfo is not None


def test_notifications_firing_then_resolved() -> None:
    replay = Replay("webhook_notifications")
    log = NotificationLogClient("http://webhook.test", transport=replay.transport)

    notifications = log.notifications()

    assert notifications
    first = notifications[0]
    assert first.received_at.tzinfo is not None
    assert first.payload.version == "4"
    assert first.payload.receiver == "lab"
    assert first.payload.group_labels == {"alertname": first.payload.alerts[0].name}
    storm = log.alerts("ExceptionStorm")
    statuses = [alert.status for _, alert in storm]
    assert statuses[0] == "firing"
    assert "resolved" in statuses
    received = [at for at, _ in storm]
    assert received == sorted(received)
    storm_firing = next(n for n in notifications if n.alerts("ExceptionStorm", "firing"))
    firing = storm_firing.alerts("ExceptionStorm", "firing")[0]
    assert firing.ends_at is None  # Go's zero time
    assert firing.starts_at is not None
    resolved = next(alert for _, alert in log.alerts("ExceptionStorm", "resolved"))
    assert resolved.ends_at is not None
    assert resolved.starts_at is not None
    assert resolved.ends_at > resolved.starts_at


def test_since_is_sent_as_utc_iso8601() -> None:
    replay = Replay("webhook_notifications")
    log = NotificationLogClient("http://webhook.test", transport=replay.transport)
    local = timezone(timedelta(hours=2))

    log.notifications(since=datetime(2024, 6, 1, 14, 0, tzinfo=local))

    assert replay.last.url.params["since"] == "2024-06-01T12:00:00Z"
    assert iso8601(datetime(2024, 6, 1, 12, 0, 0, 5)) == "2024-06-01T12:00:00.000005Z"
    assert iso8601(datetime(2024, 6, 1, 12, tzinfo=UTC)) == "2024-06-01T12:00:00Z"


def test_webhook_payload_is_lenient() -> None:
    alert = WebhookAlert.model_validate({"status": "firing", "labels": {"alertname": "X"},
                                         "future": {"field": 1}})  # fmt: skip
    assert alert.name == "X"
    assert alert.starts_at is None
