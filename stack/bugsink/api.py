"""A thin client for Bugsink's canonical REST API (``/api/canonical/0/``).

Only what a smoke test needs; the expectation engine has its own client.
Endpoints (Bugsink 2.6, ``Authorization: Bearer <token>``), all list
responses cursor-paginated as ``{"next", "previous", "results"}``:

* ``GET issues/?project=<id>&q=<text and key:value tag filters>&state=all``
* ``GET issues/<uuid>/tags/?key=<tag>`` — stored tag values with counts
* ``GET events/?issue=<uuid>&q=...`` — events without their payload
* ``GET events/<uuid>/`` — one event with ``data`` (the SDK's event JSON)
* ``GET events/lookup/?project=<id>&event_id=<sdk event id>`` — the same, by
  the id ``sentry_sdk.capture_*`` returned
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

API_PREFIX = "/api/canonical/0/"
_MAX_PAGES = 100


class _ApiModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Issue(_ApiModel):
    id: str
    friendly_id: str
    project: int
    digested_event_count: int
    stored_event_count: int
    calculated_type: str
    calculated_value: str
    first_seen: datetime
    last_seen: datetime
    is_resolved: bool
    is_muted: bool


class IssueTag(_ApiModel):
    key: str
    value: str
    count: int


class EventSummary(_ApiModel):
    id: str
    event_id: str
    issue: str
    project: int
    timestamp: datetime
    digest_order: int


class ExceptionValue(_ApiModel):
    type: str | None = None
    value: str | None = None


class ExceptionList(_ApiModel):
    values: list[ExceptionValue] = Field(default_factory=list)


class SentryEventData(_ApiModel):
    """The parts of the stored SDK event JSON the lab looks at."""

    event_id: str
    level: str | None = None
    fingerprint: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    exception: ExceptionList | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_mapping(cls, raw: Any) -> Any:
        # The Sentry protocol allows tags as an object or as a list of [key, value] pairs.
        if isinstance(raw, list):
            return {str(pair[0]): str(pair[1]) for pair in raw}
        return raw

    @property
    def exception_types(self) -> list[str]:
        if self.exception is None:
            return []
        return [value.type for value in self.exception.values if value.type is not None]


class EventDetail(EventSummary):
    data: SentryEventData


ItemT = TypeVar("ItemT", bound=BaseModel)


class _Page(BaseModel, Generic[ItemT]):
    next: str | None = None
    results: list[ItemT]


class CanonicalApi:
    """Read issues and events of a Bugsink instance."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + API_PREFIX,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def issues(self, project_id: int, query: str = "") -> list[Issue]:
        params = {"project": str(project_id), "state": "all"}
        if query:
            params["q"] = query
        return self._all("issues/", params, Issue)

    def issue_tags(self, issue_id: str, key: str | None = None) -> list[IssueTag]:
        params = {} if key is None else {"key": key}
        return self._all(f"issues/{issue_id}/tags/", params, IssueTag)

    def events(self, issue_id: str) -> list[EventSummary]:
        return self._all("events/", {"issue": issue_id}, EventSummary)

    def event(self, event_uuid: str) -> EventDetail:
        response = self._client.get(f"events/{event_uuid}/")
        response.raise_for_status()
        return EventDetail.model_validate_json(response.content)

    def lookup(self, project_id: int, sdk_event_id: str) -> EventDetail | None:
        """The event the SDK sent as ``sdk_event_id``, or None if it is not stored (yet)."""
        response = self._client.get(
            "events/lookup/", params={"project": str(project_id), "event_id": sdk_event_id}
        )
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        response.raise_for_status()
        return EventDetail.model_validate_json(response.content)

    def _all(self, path: str, params: dict[str, str], model: type[ItemT]) -> list[ItemT]:
        items: list[ItemT] = []
        response = self._client.get(path, params=params)
        for _ in range(_MAX_PAGES):
            response.raise_for_status()
            page = _Page[model].model_validate_json(response.content)  # type: ignore[valid-type]  # generic over a runtime class
            items.extend(page.results)
            if page.next is None:
                break
            response = self._client.get(page.next)
        return items

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CanonicalApi:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
