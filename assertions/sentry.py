"""Sentry-compatible error tracking, backend-neutral: issues, events and the backend interface.

A :class:`SentryBackend` is bound to one project when it is built (Bugsink: a
project id; Sentry's web API: an organization and project slug), so its
methods only ever say *which* issues or events:

* :meth:`~SentryBackend.issues` — issues of the project, optionally only those
  with every given tag (``{"run_id": "..."}``) and a free-text query;
* :meth:`~SentryBackend.events` — summaries of an issue's events, newest first;
* :meth:`~SentryBackend.event` — one event in full (tags, fingerprint, level,
  exceptions), by the backend's event id.

:class:`~assertions.bugsink.BugsinkClient` implements it against Bugsink's
canonical API. A Sentry web-API client would map ``issues`` to
``GET /api/0/projects/{org}/{project}/issues/?query=run_id:...``, ``events`` to
``GET /api/0/issues/{id}/events/`` and ``event`` to
``GET /api/0/projects/{org}/{project}/events/{id}/``; the models below hold
only what both APIs provide.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SentryIssue(_Model):
    """A group of events with the same fingerprint."""

    id: str
    #: Human id such as ``TARGET-1`` (Sentry: ``shortId``).
    short_id: str = ""
    #: Type of the grouped exception (or the message's first words when there is none).
    exception_type: str = ""
    #: The exception message (Sentry: ``metadata.value``).
    value: str = ""
    #: The transaction (route) the first event came from, when known.
    transaction: str = ""
    first_seen: datetime
    last_seen: datetime
    #: Events the backend counted for this issue.
    event_count: int
    is_resolved: bool = False
    is_muted: bool = False

    @property
    def title(self) -> str:
        return f"{self.exception_type}: {self.value}" if self.value else self.exception_type

    def describe(self) -> str:
        return f"{self.short_id or self.id} {self.title} ({self.event_count} events)"


class SentryEventRef(_Model):
    """An event as an issue's event list gives it: ids and time, no payload."""

    id: str
    #: The id the SDK generated (``capture_exception`` returned it).
    event_id: str
    issue_id: str
    timestamp: datetime


class SentryException(_Model):
    """One entry of the event's ``exception.values`` (innermost cause first, as the SDK sends)."""

    type: str | None = None
    value: str | None = None
    module: str | None = None


class SentryEvent(_Model):
    """One event in full: what expectations match on."""

    id: str
    event_id: str
    issue_id: str
    timestamp: datetime
    level: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    fingerprint: list[str] = Field(default_factory=list)
    exceptions: list[SentryException] = Field(default_factory=list)
    message: str | None = None
    transaction: str | None = None
    environment: str | None = None
    release: str | None = None
    #: ``contexts.trace.trace_id``: the OpenTelemetry/Sentry trace the event belongs to.
    trace_id: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_mapping(cls, raw: Any) -> Any:
        # The Sentry protocol allows tags as an object or as [key, value] pairs.
        if isinstance(raw, list):
            return {str(pair[0]): str(pair[1]) for pair in raw}
        return raw

    @property
    def exception_type(self) -> str | None:
        """The type of the exception that was raised last (the outermost one)."""
        for exc in reversed(self.exceptions):
            if exc.type is not None:
                return exc.type
        return None

    @property
    def exception_types(self) -> list[str]:
        return [exc.type for exc in self.exceptions if exc.type is not None]


@runtime_checkable
class SentryBackend(Protocol):
    """Read the issues and events of one project of a Sentry-compatible backend."""

    def issues(self, tags: Mapping[str, str] | None = None, query: str = "") -> list[SentryIssue]:
        """Issues of the project having every tag in ``tags`` (any state, muted or resolved)."""
        ...

    def events(self, issue_id: str, limit: int | None = None) -> list[SentryEventRef]:
        """The issue's events, newest first, at most ``limit``."""
        ...

    def event(self, event_id: str) -> SentryEvent | None:
        """One event by the backend's event id; None when it is not (or no longer) stored."""
        ...


def latest_events(backend: SentryBackend, issue_id: str, limit: int = 10) -> list[SentryEvent]:
    """The ``limit`` newest events of an issue, in full (one request per event)."""
    found = (backend.event(ref.id) for ref in backend.events(issue_id, limit))
    return [event for event in found if event is not None]


__all__ = [
    "SentryBackend",
    "SentryEvent",
    "SentryEventRef",
    "SentryException",
    "SentryIssue",
    "latest_events",
]
