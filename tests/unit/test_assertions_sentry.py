"""BugsinkClient behind the SentryBackend interface, on responses recorded from real Bugsink."""

from __future__ import annotations

import json

import httpx
import pytest

from assertions import (
    BugsinkClient,
    SentryBackend,
    SentryEvent,
    UnexpectedResponse,
    latest_events,
)
from assertions.bugsink import tag_query
from tests.unit.recorded.replay import Replay, dig_list, dig_str, recorded

RUN_ID = "rec-20240601-0001"
ISSUES = recorded("bugsink_issues").body
EVENTS = recorded("bugsink_events").body
ISSUE_ID = dig_str(ISSUES, "results", 0, "id")
EVENT_ID = dig_str(EVENTS, "results", 0, "id")
EVENT_COUNT = len(dig_list(EVENTS, "results"))


def client(*fixtures: str) -> tuple[BugsinkClient, Replay]:
    replay = Replay(*fixtures)
    bugsink = BugsinkClient("http://bugsink.test/", "a" * 40, 1, transport=replay.transport)
    return bugsink, replay


def test_bugsink_client_is_a_sentry_backend() -> None:
    bugsink, _ = client()
    assert isinstance(bugsink, SentryBackend)


def test_issues_filtered_by_run_id() -> None:
    bugsink, replay = client("bugsink_issues")

    [issue] = bugsink.issues(tags={"run_id": RUN_ID})

    assert issue.id == ISSUE_ID
    assert issue.short_id == dig_str(ISSUES, "results", 0, "friendly_id")
    assert issue.short_id.startswith("TARGET-")
    assert issue.exception_type == "PoolCheckoutTimeout"
    assert issue.value == "injected failure"
    assert issue.title == "PoolCheckoutTimeout: injected failure"
    assert issue.transaction == "/api/documents"
    assert issue.event_count == EVENT_COUNT
    assert EVENT_COUNT > 20  # the storm's events, fewer than one page
    assert issue.first_seen <= issue.last_seen
    assert not issue.is_resolved
    request = replay.last
    assert request.url.path == "/api/canonical/0/issues/"
    assert request.url.params["project"] == "1"
    assert request.url.params["state"] == "all"
    assert request.url.params["q"] == f'run_id:"{RUN_ID}"'
    assert request.headers["Authorization"] == "Bearer " + "a" * 40


def test_no_matching_issue_is_an_empty_list() -> None:
    bugsink, _ = client("bugsink_issues_none")
    assert bugsink.issues(tags={"run_id": "nope"}) == []


def test_tag_query_quotes_values_and_rejects_unsearchable_keys() -> None:
    assert tag_query({"run_id": "r1", "level": "error"}) == 'run_id:"r1" level:"error"'
    assert tag_query({"msg": 'say "hi" \\o/'}, "Timeout") == 'msg:"say \\"hi\\" \\\\o/" Timeout'
    assert tag_query({}) == ""
    with pytest.raises(ValueError, match="cannot be searched"):
        tag_query({"bad key": "x"})


def test_events_of_an_issue_newest_first() -> None:
    bugsink, replay = client("bugsink_events")

    events = bugsink.events(ISSUE_ID)

    assert len(events) == EVENT_COUNT
    assert events[0].id == EVENT_ID
    assert all(e.issue_id == ISSUE_ID for e in events)
    assert [e.timestamp for e in events] == sorted((e.timestamp for e in events), reverse=True)
    assert replay.last.url.params["issue"] == ISSUE_ID
    assert len(bugsink.events(ISSUE_ID, limit=5)) == 5


def test_cursor_pages_are_followed() -> None:
    results = dig_list(EVENTS, "results")
    next_url = "http://bugsink.test/api/canonical/0/events/?cursor=cD0yMA&issue=" + ISSUE_ID
    pages = {
        None: {"next": next_url, "previous": None, "results": results[:20]},
        "cD0yMA": {"next": None, "previous": "x", "results": results[20:]},
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    bugsink = BugsinkClient(
        "http://bugsink.test", "a" * 40, 1, transport=httpx.MockTransport(handler)
    )

    assert len(bugsink.events(ISSUE_ID)) == EVENT_COUNT
    assert len(seen) == 2
    assert len(bugsink.events(ISSUE_ID, limit=10)) == 10
    assert len(seen) == 3  # the first page was enough


def test_one_event_in_full() -> None:
    bugsink, replay = client("bugsink_event")

    event = bugsink.event(EVENT_ID)

    assert isinstance(event, SentryEvent)
    assert event.issue_id == ISSUE_ID
    assert event.level == "error"
    assert event.tags["run_id"] == RUN_ID
    assert event.fingerprint == ["chaos-exception", "PoolCheckoutTimeout"]
    assert event.exception_type == "PoolCheckoutTimeout"
    assert event.exception_types == ["PoolCheckoutTimeout"]
    assert event.exceptions[0].value == "injected failure"
    assert event.exceptions[0].module == "target_app.chaos"
    assert event.transaction == "/api/documents"
    assert event.environment == "local"
    assert event.release == "target@0.1.0"
    assert event.trace_id == event.tags["trace_id"]
    assert replay.last.url.path == f"/api/canonical/0/events/{EVENT_ID}/"


def test_latest_events_fetches_each_in_full() -> None:
    bugsink, replay = client("bugsink_events", "bugsink_event")

    [event] = latest_events(bugsink, ISSUE_ID, limit=1)

    assert event.id == EVENT_ID  # the newest event of the list, fetched in full
    assert event.tags["run_id"] == RUN_ID
    assert [r.url.path for r in replay.requests] == [
        "/api/canonical/0/events/",
        f"/api/canonical/0/events/{EVENT_ID}/",
    ]


def test_missing_event_is_none() -> None:
    transport = httpx.MockTransport(lambda _: httpx.Response(404, json={"detail": "Not found."}))
    bugsink = BugsinkClient("http://bugsink.test", "a" * 40, 1, transport=transport)
    assert bugsink.event(EVENT_ID) is None


def test_a_rejected_token_is_unexpected() -> None:
    bugsink, _ = client("bugsink_unauthorized")

    with pytest.raises(UnexpectedResponse) as caught:
        bugsink.issues()

    assert caught.value.status_code == 401
    assert "Bearer token" in caught.value.reason


def test_event_tags_as_pairs() -> None:
    fixture = recorded("bugsink_event")
    body = json.loads(json.dumps(fixture.body))
    body["data"]["tags"] = [["run_id", RUN_ID], ["level", "error"]]
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=body))
    bugsink = BugsinkClient("http://bugsink.test", "a" * 40, 1, transport=transport)

    event = bugsink.event(EVENT_ID)

    assert event is not None
    assert event.tags == {"run_id": RUN_ID, "level": "error"}
