"""Alertmanager webhook payloads (version 4) and the notifications the lab records.

Parsing is lenient: unknown fields are kept (``extra="allow"``) and
everything but ``status`` and ``alerts`` has a default, so a newer
Alertmanager still parses. Field names are snake_case; the JSON names
(``groupKey``, ``startsAt``...) are aliases.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AliasGenerator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

FIRING = "firing"
RESOLVED = "resolved"


def _alias(name: str) -> str:
    # Alertmanager spells these two with a capitalised acronym.
    return {"generator_url": "generatorURL", "external_url": "externalURL"}.get(
        name, to_camel(name)
    )


_WIRE = ConfigDict(
    extra="allow",
    frozen=True,
    populate_by_name=True,
    alias_generator=AliasGenerator(validation_alias=_alias, serialization_alias=_alias),
)


class Alert(BaseModel):
    """One alert of a notification."""

    model_config = _WIRE

    status: str
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")


class AlertmanagerPayload(BaseModel):
    """The body Alertmanager POSTs to a webhook receiver."""

    model_config = _WIRE

    status: str
    alerts: list[Alert]
    version: str = "4"
    group_key: str = ""
    truncated_alerts: int = 0
    receiver: str = ""
    group_labels: dict[str, str] = Field(default_factory=dict)
    common_labels: dict[str, str] = Field(default_factory=dict)
    common_annotations: dict[str, str] = Field(default_factory=dict)
    external_url: str = ""

    def alerts_named(self, name: str, status: str | None = None) -> list[Alert]:
        """The alerts called ``name`` (and in ``status`` when given)."""
        return [
            alert
            for alert in self.alerts
            if alert.name == name and (status is None or alert.status == status)
        ]


class Notification(BaseModel):
    """One webhook call as recorded: when it arrived (UTC) and what it carried."""

    model_config = ConfigDict(frozen=True)

    received_at: datetime
    payload: AlertmanagerPayload

    def alerts_named(self, name: str, status: str | None = None) -> list[Alert]:
        return self.payload.alerts_named(name, status)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """``moment`` as ISO 8601 in UTC with a ``Z`` suffix."""
    return as_utc(moment).isoformat().replace("+00:00", "Z")


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


__all__ = ["FIRING", "RESOLVED", "Alert", "AlertmanagerPayload", "Notification"]
