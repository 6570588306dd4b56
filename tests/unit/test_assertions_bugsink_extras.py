"""BugsinkClient's Bugsink-only reads (issue tags, lookup by SDK event id) for stack tests."""

from __future__ import annotations

import json

import httpx

from assertions import BugsinkClient
from assertions.bugsink import BugsinkIssueTag
from tests.unit.recorded.replay import dig_str, recorded

EVENT = json.loads(json.dumps(recorded("bugsink_event").body))
SDK_EVENT_ID = dig_str(EVENT, "event_id")


def bugsink(handler: httpx.MockTransport) -> BugsinkClient:
    return BugsinkClient("http://bugsink.test/", "a" * 40, 7, transport=handler)


def test_issue_tags_follow_the_pages_and_filter_by_key() -> None:
    asked: list[httpx.URL] = []
    pages = {
        None: {
            "next": "http://bugsink.test/api/canonical/0/issues/i1/tags/?cursor=2",
            "results": [{"key": "run_id", "value": "r1", "count": 2}],
        },
        "2": {"next": None, "results": [{"key": "run_id", "value": "r2", "count": 1}]},
    }

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        return httpx.Response(200, json=pages[request.url.params.get("cursor")])

    tags = bugsink(httpx.MockTransport(handle)).issue_tags("i1", key="run_id")

    assert tags == [
        BugsinkIssueTag(key="run_id", value="r1", count=2),
        BugsinkIssueTag(key="run_id", value="r2", count=1),
    ]
    assert asked[0].path == "/api/canonical/0/issues/i1/tags/"
    assert asked[0].params["key"] == "run_id"


def test_lookup_finds_an_event_by_the_sdk_id_in_the_clients_project() -> None:
    asked: list[httpx.URL] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        return httpx.Response(200, json=EVENT)

    event = bugsink(httpx.MockTransport(handle)).lookup(SDK_EVENT_ID)

    assert event is not None
    assert event.event_id == SDK_EVENT_ID
    assert asked[0].path == "/api/canonical/0/events/lookup/"
    assert dict(asked[0].params) == {"project": "7", "event_id": SDK_EVENT_ID}


def test_lookup_of_an_event_not_stored_yet_is_none() -> None:
    missing = httpx.MockTransport(lambda _: httpx.Response(404, json={"detail": "Not found."}))

    assert bugsink(missing).lookup(SDK_EVENT_ID) is None
