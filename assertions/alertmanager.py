"""Alertmanager: its v2 API, and the lab's record of the notifications it sent.

* :class:`AlertmanagerClient` — ``GET /api/v2/alerts`` (with Alertmanager's
  own ``filter``/``active``/``silenced``/``inhibited``/``receiver`` parameters)
  and ``GET /api/v2/status``.
* :class:`NotificationLogClient` — the lab's webhook receiver: Alertmanager
  POSTs webhook v4 payloads to it, and ``GET /notifications?since=<ISO 8601>``
  lists them as ``[{"received_at": ..., "payload": {...}}]``. Payloads are
  modelled leniently (every field but ``alerts`` has a default, unknown fields
  are ignored) so a newer Alertmanager or a hand-written receiver still parses.

Go's zero time (``0001-01-01T00:00:00Z``, the ``endsAt`` of a firing alert in
a webhook payload) is read as ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from assertions.transport import HttpBackend

AlertStatus = Literal["firing", "resolved"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def _zero_time_is_none(raw: Any) -> Any:
    if isinstance(raw, str) and raw.startswith("0001-01-01"):
        return None
    return raw


class AlertmanagerAlertStatus(_Model):
    state: Literal["unprocessed", "active", "suppressed"]
    silenced_by: list[str] = Field(default_factory=list, alias="silencedBy")
    inhibited_by: list[str] = Field(default_factory=list, alias="inhibitedBy")


class Receiver(_Model):
    name: str


class AlertmanagerAlert(_Model):
    """An alert Alertmanager holds (``GettableAlert`` of the v2 API)."""

    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    fingerprint: str
    status: AlertmanagerAlertStatus
    receivers: list[Receiver] = Field(default_factory=list)
    generator_url: str = Field(default="", alias="generatorURL")

    _times = field_validator("ends_at", "updated_at", mode="before")(_zero_time_is_none)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def active(self) -> bool:
        return self.status.state == "active"


class Peer(_Model):
    name: str
    address: str = ""


class ClusterStatus(_Model):
    status: str
    name: str | None = None
    peers: list[Peer] = Field(default_factory=list)


class VersionInfo(_Model):
    version: str = ""
    revision: str = ""
    branch: str = ""
    go_version: str = Field(default="", alias="goVersion")


class AlertmanagerConfig(_Model):
    original: str


class AlertmanagerStatus(_Model):
    """``GET /api/v2/status``: version, cluster state, uptime and the loaded config."""

    cluster: ClusterStatus
    version_info: VersionInfo = Field(alias="versionInfo")
    config: AlertmanagerConfig
    uptime: datetime


class WebhookAlert(_Model):
    """One alert of a webhook payload."""

    status: AlertStatus
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = Field(default=None, alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL")
    fingerprint: str = ""

    _times = field_validator("starts_at", "ends_at", mode="before")(_zero_time_is_none)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


class WebhookPayload(_Model):
    """Alertmanager's webhook body (version 4): one notification of one alert group."""

    version: str = "4"
    status: AlertStatus
    receiver: str = ""
    group_key: str = Field(default="", alias="groupKey")
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts")
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field(default="", alias="externalURL")
    alerts: list[WebhookAlert]


class Notification(_Model):
    """A webhook payload and when the lab's receiver got it (UTC)."""

    received_at: datetime
    payload: WebhookPayload

    def alerts(
        self, name: str | None = None, status: AlertStatus | None = None
    ) -> list[WebhookAlert]:
        """The payload's alerts, optionally only those called ``name`` / in ``status``."""
        return [
            alert
            for alert in self.payload.alerts
            if (name is None or alert.name == name) and (status is None or alert.status == status)
        ]


_ALERTS = TypeAdapter(list[AlertmanagerAlert])
_STATUS = TypeAdapter(AlertmanagerStatus)
_NOTIFICATIONS = TypeAdapter(list[Notification])


def iso8601(at: datetime) -> str:
    """``at`` in UTC as ``2024-06-01T12:00:00.123456Z``; a naive datetime is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class AlertmanagerClient(HttpBackend):
    """Alertmanager's v2 API."""

    backend = "alertmanager"

    def alerts(
        self,
        *,
        matchers: Sequence[str] = (),
        active: bool = True,
        silenced: bool = True,
        inhibited: bool = True,
        unprocessed: bool = True,
        receiver: str | None = None,
    ) -> list[AlertmanagerAlert]:
        """``GET /api/v2/alerts``; ``matchers`` such as ``alertname="ExceptionStorm"``."""
        params: list[tuple[str, str]] = [("filter", matcher) for matcher in matchers]
        flags = {
            "active": active,
            "silenced": silenced,
            "inhibited": inhibited,
            "unprocessed": unprocessed,
        }
        params += [(name, "true" if value else "false") for name, value in flags.items()]
        if receiver is not None:
            params.append(("receiver", receiver))
        response = self._require_ok(self._get("/api/v2/alerts", params))
        return self._decode(response, _ALERTS)

    def status(self) -> AlertmanagerStatus:
        """``GET /api/v2/status``."""
        return self._decode(self._require_ok(self._get("/api/v2/status")), _STATUS)


class NotificationLogClient(HttpBackend):
    """The lab's webhook receiver: what Alertmanager actually notified, and when."""

    backend = "alert-webhook"

    def notifications(self, since: datetime | None = None) -> list[Notification]:
        """``GET /notifications?since=``: notifications received at or after ``since``."""
        params = {} if since is None else {"since": iso8601(since)}
        response = self._require_ok(self._get("/notifications", params))
        return self._decode(response, _NOTIFICATIONS)

    def alerts(
        self,
        name: str | None = None,
        status: AlertStatus | None = None,
        since: datetime | None = None,
    ) -> list[tuple[datetime, WebhookAlert]]:
        """Every notified alert (optionally by ``name``/``status``) with its receipt time."""
        return [
            (notification.received_at, alert)
            for notification in self.notifications(since)
            for alert in notification.alerts(name, status)
        ]


__all__ = [
    "AlertStatus",
    "AlertmanagerAlert",
    "AlertmanagerAlertStatus",
    "AlertmanagerClient",
    "AlertmanagerConfig",
    "AlertmanagerStatus",
    "ClusterStatus",
    "Notification",
    "NotificationLogClient",
    "Peer",
    "Receiver",
    "VersionInfo",
    "WebhookAlert",
    "WebhookPayload",
    "iso8601",
]
