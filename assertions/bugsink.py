"""Bugsink's canonical API (``/api/canonical/0/``) behind :class:`~assertions.sentry.SentryBackend`.

Endpoints (Bugsink 2.x, ``Authorization: Bearer <token>``), lists
cursor-paginated as ``{"next", "previous", "results"}``:

* ``GET issues/?project=<id>&state=all&q=<text and key:"value" tag filters>``
* ``GET issues/<uuid>/tags/?key=<tag>`` — the tag values stored for an issue, with counts
* ``GET events/?issue=<uuid>`` — newest first, no payload
* ``GET events/<uuid>/`` — one event with ``data``, the SDK's event JSON
* ``GET events/lookup/?project=<id>&event_id=<sdk event id>`` — the same, by the
  id ``sentry_sdk.capture_*`` returned

This is the lab's one Bugsink client: the expectation engine asks it through
the :class:`~assertions.sentry.SentryBackend` methods, and the stack's
integration tests use its Bugsink-only extras (:meth:`BugsinkClient.issue_tags`,
:meth:`BugsinkClient.lookup`).

Usage::

    with BugsinkClient(bugsink.url, bugsink.api_token, bugsink.project_id) as sentry:
        issues = sentry.issues(tags={"run_id": run_id})

A wrong token (401/403) is :class:`~assertions.exceptions.UnexpectedResponse`;
a refused connection, a timeout or a 5xx is
:class:`~assertions.exceptions.BackendUnavailable`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from assertions.sentry import SentryEvent, SentryEventRef, SentryException, SentryIssue
from assertions.transport import DEFAULT_TIMEOUT_S, HttpBackend

API_PREFIX = "/api/canonical/0"
MAX_PAGES = 100
_TAG_KEY = re.compile(r'^[^\s:"\\]+$')

ItemT = TypeVar("ItemT")


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class _Page(_Wire, Generic[ItemT]):
    next: str | None = None
    results: list[ItemT]


class BugsinkIssue(_Wire):
    id: str
    friendly_id: str = ""
    digested_event_count: int = 0
    calculated_type: str = ""
    calculated_value: str = ""
    transaction: str = ""
    first_seen: datetime
    last_seen: datetime
    is_resolved: bool = False
    is_muted: bool = False

    def neutral(self) -> SentryIssue:
        return SentryIssue(
            id=self.id,
            short_id=self.friendly_id,
            exception_type=self.calculated_type,
            value=self.calculated_value,
            transaction=self.transaction,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            event_count=self.digested_event_count,
            is_resolved=self.is_resolved,
            is_muted=self.is_muted,
        )


class BugsinkEventSummary(_Wire):
    id: str
    event_id: str
    issue: str
    timestamp: datetime

    def neutral(self) -> SentryEventRef:
        return SentryEventRef(
            id=self.id, event_id=self.event_id, issue_id=self.issue, timestamp=self.timestamp
        )


class BugsinkIssueTag(_Wire):
    """One stored value of a tag on an issue, and how many events carried it."""

    key: str
    value: str
    count: int


class _ExceptionList(_Wire):
    values: list[SentryException] = Field(default_factory=list)


class _TraceContext(_Wire):
    trace_id: str | None = None


class _Contexts(_Wire):
    trace: _TraceContext | None = None


class EventData(_Wire):
    """The parts of the stored SDK event JSON the lab reads."""

    level: str | None = None
    tags: dict[str, str] | list[list[str]] = Field(default_factory=dict)
    fingerprint: list[str] = Field(default_factory=list)
    exception: _ExceptionList | None = None
    message: str | dict[str, JsonValue] | None = None
    logentry: dict[str, JsonValue] | None = None
    transaction: str | None = None
    environment: str | None = None
    release: str | None = None
    contexts: _Contexts | None = None

    def text(self) -> str | None:
        """The event's message: ``message`` (string or object) or ``logentry``."""
        for entry in (self.message, self.logentry):
            if isinstance(entry, str):
                return entry
            if isinstance(entry, dict):
                text = entry.get("formatted") or entry.get("message")
                if isinstance(text, str):
                    return text
        return None


class BugsinkEvent(BugsinkEventSummary):
    data: EventData

    def neutral_event(self) -> SentryEvent:
        data = self.data
        trace = data.contexts.trace if data.contexts else None
        return SentryEvent(
            id=self.id,
            event_id=self.event_id,
            issue_id=self.issue,
            timestamp=self.timestamp,
            level=data.level,
            tags=data.tags,
            fingerprint=data.fingerprint,
            exceptions=data.exception.values if data.exception else [],
            message=data.text(),
            transaction=data.transaction,
            environment=data.environment,
            release=data.release,
            trace_id=trace.trace_id if trace else None,
        )


_ISSUES = TypeAdapter(_Page[BugsinkIssue])
_ISSUE_TAGS = TypeAdapter(_Page[BugsinkIssueTag])
_EVENTS = TypeAdapter(_Page[BugsinkEventSummary])
_EVENT = TypeAdapter(BugsinkEvent)


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def tag_query(tags: Mapping[str, str], text: str = "") -> str:
    """Bugsink's ``q``: ``key:"value"`` per tag (all must match), then free text."""
    terms = []
    for key, value in tags.items():
        if not _TAG_KEY.match(key):
            raise ValueError(f"tag key {key!r} cannot be searched: no spaces, quotes or colons")
        terms.append(f"{key}:{_quote(value)}")
    if text:
        terms.append(text)
    return " ".join(terms)


class BugsinkClient(HttpBackend):
    """A :class:`~assertions.sentry.SentryBackend` for one Bugsink project."""

    backend = "bugsink"

    def __init__(
        self,
        base_url: str,
        token: str,
        project_id: int,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url.rstrip("/") + API_PREFIX,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
        )
        self.project_id = project_id

    def issues(self, tags: Mapping[str, str] | None = None, query: str = "") -> list[SentryIssue]:
        params = {"project": str(self.project_id), "state": "all"}
        q = tag_query(tags or {}, query)
        if q:
            params["q"] = q
        return [issue.neutral() for issue in self._pages("/issues/", params, _ISSUES)]

    def events(self, issue_id: str, limit: int | None = None) -> list[SentryEventRef]:
        summaries = self._pages("/events/", {"issue": issue_id}, _EVENTS, limit)
        return [summary.neutral() for summary in summaries]

    def event(self, event_id: str) -> SentryEvent | None:
        response = self._get(f"/events/{event_id}/")
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        return self._decode(self._require_ok(response), _EVENT).neutral_event()

    def issue_tags(self, issue_id: str, key: str | None = None) -> list[BugsinkIssueTag]:
        """The tag values Bugsink stored for an issue (only ``key``'s when given)."""
        params = {} if key is None else {"key": key}
        return self._pages(f"/issues/{issue_id}/tags/", params, _ISSUE_TAGS)

    def lookup(self, sdk_event_id: str) -> SentryEvent | None:
        """The event the SDK sent as ``sdk_event_id``; None when it is not stored (yet)."""
        params = {"project": str(self.project_id), "event_id": sdk_event_id}
        response = self._get("/events/lookup/", params)
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        return self._decode(self._require_ok(response), _EVENT).neutral_event()

    def _pages(
        self,
        path: str,
        params: dict[str, str],
        adapter: TypeAdapter[_Page[ItemT]],
        limit: int | None = None,
    ) -> list[ItemT]:
        items: list[ItemT] = []
        response = self._get(path, params)
        for _ in range(MAX_PAGES):
            page = self._decode(self._require_ok(response), adapter)
            items.extend(page.results)
            if page.next is None or (limit is not None and len(items) >= limit):
                break
            response = self._get(page.next)
        return items if limit is None else items[:limit]


__all__ = [
    "API_PREFIX",
    "BugsinkClient",
    "BugsinkEvent",
    "BugsinkEventSummary",
    "BugsinkIssue",
    "BugsinkIssueTag",
    "EventData",
    "tag_query",
]
