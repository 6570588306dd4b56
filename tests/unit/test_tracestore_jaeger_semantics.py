"""Where the trace store must agree with real Jaeger beyond the JSON shapes.

Each group pins one behaviour of Jaeger v2 (query service with a v1-model
storage such as Badger or Cassandra):

* array and map attributes become string tags holding their JSON, written as
  Go's ``encoding/json`` does without HTML escaping (non-ASCII characters kept,
  map keys sorted, Go's number forms);
* a tag search compares a float64 tag as ``strconv.FormatFloat(v, 'g', 10, 64)``
  and a binary tag as lowercase hex, while the JSON answer keeps the number
  and the base64 bytes;
* ``minDuration``/``maxDuration`` of 0 mean no bound;
* a search without ``start``/``end`` looks at the last 48 hours (up to now).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from stack.tracestore.model import Attribute, SpanKind, StoredSpan
from stack.tracestore.otlp import attributes_of
from stack.tracestore.query import TraceQuery, parse_trace_query
from stack.tracestore.storage import SpanStore
from tests.unit.tracestore_client import store_client

MS = 1_000_000
HOUR = 3_600_000 * MS
SERVICE = "shop"
RECENT = "a" * 32  # an hour ago, with the typed attributes below
OLD = "b" * 32  # 49 hours ago: outside Jaeger's default lookback
FUTURE = "c" * 32  # an hour from now: after Jaeger's default end


def _kv(key: str, **value: Any) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def _strings(*items: str) -> ArrayValue:
    return ArrayValue(values=[AnyValue(string_value=item) for item in items])


TYPED_ATTRIBUTES = [
    _kv("names", array_value=_strings("café", "naïve")),
    _kv(
        "place",
        kvlist_value=KeyValueList(
            values=[_kv("ville", string_value="Zürich"), _kv("code", int_value=8001)]
        ),
    ),
    _kv("amount", double_value=123456789012.0),
    _kv("ratio", double_value=0.1),
    _kv("huge", double_value=1e21),
    _kv("digest", bytes_value=b"\x01\xab\xff"),
]


def _span(trace_id: str, start_ns: int, duration_ns: int, attributes: list[KeyValue]) -> Span:
    return Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(trace_id[:16]),
        name="GET /basket",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=start_ns + duration_ns,
        attributes=attributes,
    )


def _export(now_ns: int) -> bytes:
    spans = [
        _span(RECENT, now_ns - HOUR, 300 * MS, TYPED_ATTRIBUTES),
        _span(OLD, now_ns - 49 * HOUR, 300 * MS, []),
        _span(FUTURE, now_ns + HOUR, 300 * MS, []),
    ]
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[_kv("service.name", string_value=SERVICE)]),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )
    return bytes(request.SerializeToString())


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with store_client(tmp_path, _export(time.time_ns())) as (_app, test_client):
        yield test_client


async def search(client: httpx.AsyncClient, **params: str) -> list[str]:
    """Trace IDs found by ``GET /api/traces?service=shop&...``, in answer order."""
    response = await client.get("/api/traces", params={"service": SERVICE, **params})
    assert response.status_code == 200, response.text
    return [trace["traceID"] for trace in response.json()["data"]]


async def recent_tags(client: httpx.AsyncClient) -> dict[str, dict[str, object]]:
    response = await client.get(f"/api/traces/{RECENT}")
    assert response.status_code == 200, response.text
    (span,) = response.json()["data"][0]["spans"]
    return {tag["key"]: tag for tag in span["tags"]}


# -- 1. arrays and maps: JSON text with the characters themselves -------------------------


async def test_array_and_map_tags_keep_non_ascii_characters(client: httpx.AsyncClient) -> None:
    tags = await recent_tags(client)

    assert tags["names"] == {"key": "names", "type": "string", "value": '["café","naïve"]'}
    assert tags["place"] == {
        "key": "place",
        "type": "string",
        "value": '{"code":8001,"ville":"Zürich"}',
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [("names", '["café","naïve"]'), ("place", '{"code":8001,"ville":"Zürich"}')],
)
async def test_tag_search_matches_array_and_map_text_with_its_characters(
    client: httpx.AsyncClient, key: str, value: str
) -> None:
    assert await search(client, tags=f'{{"{key}": {json_string(value)}}}') == [RECENT]


def json_string(text: str) -> str:
    """``text`` as a JSON string literal, non-ASCII characters kept."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(
            AnyValue(array_value=ArrayValue(values=[AnyValue(double_value=d) for d in
                     (1.0, 0.5, 1e-7, 1e20, 1e21, -0.0)])),
            "[1,0.5,1e-7,100000000000000000000,1e+21,-0]",
            id="numbers-as-go-json",
        ),
        pytest.param(
            AnyValue(array_value=_strings("<a & b>", "tab\there", "line\u2028sep", "\x01")),
            '["<a & b>","tab\\there","line\\u2028sep","\\u0001"]',
            id="escapes-without-html",
        ),
        pytest.param(
            AnyValue(kvlist_value=KeyValueList(values=[
                _kv("b", array_value=ArrayValue(values=[AnyValue(bytes_value=b"\x01\x02"),
                                                        AnyValue()])),
                _kv("a", kvlist_value=KeyValueList(values=[_kv("z", bool_value=True),
                                                           _kv("y", int_value=-3)])),
            ])),
            '{"a":{"y":-3,"z":true},"b":["AQI=",null]}',
            id="nested-sorted-keys",
        ),
        pytest.param(
            AnyValue(array_value=ArrayValue(values=[AnyValue(double_value=float("nan"))])),
            "",
            id="non-finite-number-fails-the-whole-value",
        ),
    ],
)  # fmt: skip
def test_array_and_map_text_is_go_encoding_json(value: AnyValue, text: str) -> None:
    (attribute,) = attributes_of([KeyValue(key="v", value=value)])

    assert attribute == Attribute("v", "string", text)


# -- 2. doubles and bytes: compared as Jaeger's tag text ----------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (123456789012.0, "1.23456789e+11"),
        (12.5, "12.5"),
        (1.0, "1"),
        (-0.0, "-0"),
        (1e9, "1000000000"),
        (1e10, "1e+10"),
        (0.0001, "0.0001"),
        (0.00001234, "1.234e-05"),
        (2 / 3, "0.6666666667"),
        (9999999999.5, "1e+10"),
    ],
)
def test_float_tag_text_is_go_format_float_g_10(value: float, text: str) -> None:
    assert Attribute("x", "float64", value).as_string() == text


def test_binary_tag_text_is_lowercase_hex() -> None:
    assert Attribute("x", "binary", "Aav/").as_string() == "01abff"
    assert Attribute("x", "binary", "").as_string() == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [(float("nan"), "NaN"), (float("inf"), "+Inf"), (float("-inf"), "-Inf")],
)
def test_non_finite_doubles_carry_go_names(value: float, text: str) -> None:
    (attribute,) = attributes_of([_kv("x", double_value=value)])

    assert attribute.as_string() == text


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("amount", "1.23456789e+11", [RECENT]),
        ("amount", "123456789012.0", []),
        ("amount", "123456789012", []),
        ("ratio", "0.1", [RECENT]),
        ("huge", "1e+21", [RECENT]),
        ("digest", "01abff", [RECENT]),
        ("digest", "Aav/", []),
    ],
)
async def test_tag_search_compares_doubles_and_bytes_as_jaeger(
    client: httpx.AsyncClient, key: str, value: str, expected: list[str]
) -> None:
    assert await search(client, tags=f'{{"{key}": "{value}"}}') == expected


async def test_doubles_and_bytes_are_answered_as_number_and_base64(
    client: httpx.AsyncClient,
) -> None:
    tags = await recent_tags(client)

    assert tags["amount"] == {"key": "amount", "type": "float64", "value": 123456789012.0}
    assert tags["ratio"] == {"key": "ratio", "type": "float64", "value": 0.1}
    assert tags["digest"] == {"key": "digest", "type": "binary", "value": "Aav/"}


def test_store_finds_floats_and_bytes_whose_text_is_not_their_stored_json(
    tmp_path: Path,
) -> None:
    span = StoredSpan(
        trace_id="d" * 32,
        span_id="d" * 16,
        parent_span_id="",
        service=SERVICE,
        operation="GET /basket",
        kind=SpanKind.SERVER,
        start_ns=1,
        end_ns=2,
        attributes=(
            Attribute("rounded", "float64", 123456789.99999),  # 'g' 10: 123456790
            Attribute("digest", "binary", "3q2+7w=="),
        ),
    )
    with SpanStore(tmp_path / "traces.sqlite3") as store:
        store.write([span])

        def find(key: str, value: str) -> list[str]:
            return store.find_trace_ids(TraceQuery(service=SERVICE, tags=((key, value),)))

        assert find("rounded", "123456790") == [span.trace_id]
        assert find("rounded", "123456789.99999") == []
        assert find("digest", "deadbeef") == [span.trace_id]
        assert find("digest", "3q2+7w==") == []


# -- 3. a zero duration bound is no bound -------------------------------------------------


@pytest.mark.parametrize("zero", ["0", "0s", "0ms"])
def test_zero_max_duration_is_no_bound(zero: str) -> None:
    query = parse_trace_query({"service": ["a"], "maxDuration": [zero], "minDuration": ["2s"]})

    assert query.max_duration_ns is None
    assert query.min_duration_ns == 2_000_000_000


def test_zero_min_duration_is_no_bound() -> None:
    assert parse_trace_query({"service": ["a"], "minDuration": ["0"]}).min_duration_ns is None


async def test_search_with_zero_max_duration_finds_longer_spans(
    client: httpx.AsyncClient,
) -> None:
    assert await search(client, maxDuration="0") == [RECENT]
    assert await search(client, minDuration="100ms", maxDuration="0") == [RECENT]


# -- 4. no start/end: the last 48 hours ---------------------------------------------------


def test_default_window_is_the_last_48_hours() -> None:
    now = 1_700_000_000_000_000_000
    query = parse_trace_query({"service": ["a"]}, now_ns=now)

    assert (query.start_min_ns, query.start_max_ns) == (now - 48 * HOUR, now)


def test_each_missing_bound_is_defaulted_on_its_own() -> None:
    now = 1_700_000_000_000_000_000
    only_start = parse_trace_query({"service": ["a"], "start": ["5"]}, now_ns=now)
    only_end = parse_trace_query({"service": ["a"], "end": ["5"]}, now_ns=now)

    assert (only_start.start_min_ns, only_start.start_max_ns) == (5_000, now)
    assert (only_end.start_min_ns, only_end.start_max_ns) == (now - 48 * HOUR, 5_000)


async def test_search_without_time_bounds_sees_the_last_48_hours(
    client: httpx.AsyncClient,
) -> None:
    now_us = time.time_ns() // 1_000

    assert await search(client) == [RECENT]
    assert await search(client, start=str(now_us - 50 * HOUR // 1_000)) == [RECENT, OLD]
    assert await search(client, end=str(now_us + 2 * HOUR // 1_000)) == [FUTURE, RECENT]
