"""Parsing Alertmanager webhook payloads (version 4), leniently."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from stack.alerting import AlertmanagerPayload

# What Alertmanager 0.25 posts (shape from its webhook documentation), with a
# field a newer version might add.
FIRING_BODY = {
    "receiver": "chaoslab-webhook",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "TargetDown",
                "instance": "127.0.0.1:8000",
                "job": "target",
                "severity": "critical",
            },
            "annotations": {"summary": "Target 127.0.0.1:8000 is down"},
            "startsAt": "2024-05-01T12:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up",
            "fingerprint": "6d5e4c0f2b7a9e11",
        }
    ],
    "groupLabels": {"alertname": "TargetDown"},
    "commonLabels": {"alertname": "TargetDown", "job": "target"},
    "commonAnnotations": {"summary": "Target 127.0.0.1:8000 is down"},
    "externalURL": "http://127.0.0.1:9093",
    "version": "4",
    "groupKey": '{}:{alertname="TargetDown"}',
    "truncatedAlerts": 0,
    "futureField": {"anything": True},
}


def test_every_documented_field_is_read() -> None:
    payload = AlertmanagerPayload.model_validate_json(json.dumps(FIRING_BODY))
    assert payload.version == "4"
    assert payload.group_key == '{}:{alertname="TargetDown"}'
    assert payload.status == "firing"
    assert payload.receiver == "chaoslab-webhook"
    assert payload.group_labels == {"alertname": "TargetDown"}
    assert payload.common_labels["job"] == "target"
    assert payload.common_annotations["summary"].startswith("Target")
    assert payload.external_url == "http://127.0.0.1:9093"
    [alert] = payload.alerts
    assert alert.name == "TargetDown"
    assert alert.status == "firing"
    assert alert.starts_at == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert alert.generator_url.endswith("g0.expr=up")
    assert alert.fingerprint == "6d5e4c0f2b7a9e11"


def test_unknown_fields_are_kept_and_written_back_with_wire_names() -> None:
    payload = AlertmanagerPayload.model_validate(FIRING_BODY)
    dumped = payload.model_dump(mode="json", by_alias=True)
    assert dumped["futureField"] == {"anything": True}
    assert dumped["groupKey"] == FIRING_BODY["groupKey"]
    assert dumped["alerts"][0]["generatorURL"] == "http://127.0.0.1:9090/graph?g0.expr=up"


def test_a_minimal_payload_parses() -> None:
    body = {"status": "resolved", "alerts": [{"status": "resolved", "labels": {"alertname": "X"}}]}
    payload = AlertmanagerPayload.model_validate(body)
    assert payload.alerts[0].ends_at is None
    assert payload.alerts_named("X", "resolved") == payload.alerts


def test_alerts_named_filters_by_name_and_status() -> None:
    payload = AlertmanagerPayload.model_validate(FIRING_BODY)
    assert len(payload.alerts_named("TargetDown")) == 1
    assert len(payload.alerts_named("TargetDown", "firing")) == 1
    assert payload.alerts_named("TargetDown", "resolved") == []
    assert payload.alerts_named("HighErrorRate") == []


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '{"status": "firing"}',
        '{"status": "firing", "alerts": [{"labels": {}}]}',
        '{"status": "firing", "alerts": [{"status": "firing", "startsAt": "yesterday"}]}',
        "not json",
    ],
)
def test_what_is_not_a_payload_is_rejected(body: str) -> None:
    with pytest.raises(ValidationError):
        AlertmanagerPayload.model_validate_json(body)
