"""Jaeger search parameters: Go durations, tags, time bounds, validation."""

from __future__ import annotations

import pytest

from stack.tracestore.exceptions import InvalidQuery
from stack.tracestore.model import Attribute, SpanEvent, SpanKind, StatusCode, StoredSpan
from stack.tracestore.query import (
    DEFAULT_LIMIT,
    DEFAULT_LOOKBACK_NS,
    TraceQuery,
    normalize_trace_id,
    parse_duration_ns,
    parse_trace_query,
)


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("0", 0),
        ("500us", 500_000),
        ("500µs", 500_000),
        ("100ms", 100_000_000),
        ("1.5s", 1_500_000_000),
        (".5s", 500_000_000),
        ("2m", 120_000_000_000),
        ("1h30m", 5_400_000_000_000),
        ("250ns", 250),
    ],
)
def test_go_durations(text: str, nanos: int) -> None:
    assert parse_duration_ns(text) == nanos


@pytest.mark.parametrize("text", ["", "100", "1x", "ms", "-1s", "2d", "1.5 s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_duration_ns(text)


def test_days_only_where_allowed() -> None:
    assert parse_duration_ns("2d", allow_days=True) == 2 * 86_400 * 10**9


def test_trace_ids_are_normalized_to_32_lowercase_digits() -> None:
    assert normalize_trace_id("ABCDEF") == "0" * 26 + "abcdef"
    with pytest.raises(InvalidQuery):
        normalize_trace_id("not-hex")
    with pytest.raises(InvalidQuery):
        normalize_trace_id("1" * 33)


def test_full_query_is_parsed() -> None:
    query = parse_trace_query(
        {
            "service": ["checkout"],
            "operation": ["POST /orders"],
            "tags": ['{"http.status_code":"200","error":"true"}'],
            "tag": ["region:eu:west"],
            "start": ["1700000000000000"],
            "end": ["1700000060000000"],
            "minDuration": ["100ms"],
            "maxDuration": ["1.5s"],
            "limit": ["5"],
        }
    )

    assert query == TraceQuery(
        service="checkout",
        operation="POST /orders",
        tags=(("error", "true"), ("http.status_code", "200"), ("region", "eu:west")),
        start_min_ns=1_700_000_000_000_000_000,
        start_max_ns=1_700_000_060_000_000_000,
        min_duration_ns=100_000_000,
        max_duration_ns=1_500_000_000,
        limit=5,
    )


def test_defaults_and_lookback() -> None:
    now = 10_000 * 10**9
    assert parse_trace_query({"service": ["a"]}, now_ns=now) == TraceQuery(
        service="a", start_min_ns=now - DEFAULT_LOOKBACK_NS, start_max_ns=now
    )
    query = parse_trace_query({"service": ["a"], "lookback": ["1h"], "limit": ["0"]}, now_ns=now)
    assert (query.start_min_ns, query.start_max_ns) == (now - 3_600 * 10**9, now)
    assert query.limit == DEFAULT_LIMIT
    unbounded = parse_trace_query({"service": ["a"]}, now_ns=now, default_lookback_ns=None)
    assert unbounded == TraceQuery(service="a")
    one_hour = {"service": ["a"], "lookback": ["1h"]}
    assert parse_trace_query(one_hour, now_ns=now, default_lookback_ns=None) == TraceQuery(
        service="a", start_min_ns=now - 3_600 * 10**9
    )
    explicit = parse_trace_query({"service": ["a"], "lookback": ["custom"], "start": ["7"]})
    assert explicit.start_min_ns == 7_000


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "parameter 'service' is required"),
        ({"service": ["a"], "tags": ["{bad"]}, "malformed 'tags'"),
        ({"service": ["a"], "tags": ['{"n": 1}']}, "JSON object of strings"),
        ({"service": ["a"], "tag": ["novalue"]}, "malformed 'tag'"),
        ({"service": ["a"], "minDuration": ["soon"]}, "'minDuration'"),
        ({"service": ["a"], "minDuration": ["2s"], "maxDuration": ["1s"]}, "greater than"),
        ({"service": ["a"], "start": ["yesterday"]}, "'start'"),
        ({"service": ["a"], "limit": ["many"]}, "'limit'"),
        ({"traceID": ["zz"]}, "hex"),
    ],
)
def test_invalid_queries(params: dict[str, list[str]], message: str) -> None:
    with pytest.raises(InvalidQuery, match=message):
        parse_trace_query(params)


def test_trace_id_lookup_needs_no_service() -> None:
    assert parse_trace_query({"traceID": ["ab", "cd"]}).trace_ids == (
        "0" * 30 + "ab",
        "0" * 30 + "cd",
    )


SPAN = StoredSpan(
    trace_id="1" * 32,
    span_id="2" * 16,
    parent_span_id="",
    service="checkout",
    operation="POST /orders",
    kind=SpanKind.SERVER,
    start_ns=0,
    end_ns=1,
    status_code=StatusCode.ERROR,
    attributes=(Attribute("http.status_code", "int64", 500), Attribute("ratio", "float64", 0.5)),
    resource_attributes=(Attribute("host.name", "string", "lab-1"),),
    events=(SpanEvent("exception", 0, (Attribute("exception.type", "string", "KeyError"),)),),
)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ((), True),
        ((("http.status_code", "500"),), True),
        ((("http.status_code", "200"),), False),
        ((("error", "true"),), True),
        ((("otel.status_code", "ERROR"),), True),
        ((("span.kind", "server"),), True),
        ((("ratio", "0.5"),), True),
        ((("host.name", "lab-1"),), True),
        ((("exception.type", "KeyError"),), True),
        ((("event", "exception"),), True),
        ((("error", "true"), ("http.status_code", "200")), False),
        ((("missing", ""),), False),
    ],
)
def test_tag_matching(tags: tuple[tuple[str, str], ...], expected: bool) -> None:
    assert TraceQuery(service="checkout", tags=tags).matches_tags(SPAN) is expected
