"""The Jaeger query API subset: filtering and the exact JSON shapes Jaeger answers with."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.tracestore.model import (
    Attribute,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
    StoredSpan,
)
from stack.tracestore.storage import SpanStore
from tests.unit.tracestore_client import store_client

T0 = 1_700_000_000_000_000_000  # ns
MS = 1_000_000
SECOND = 1_000 * MS
TRACE_A = "a" * 32  # checkout → payments (error), at T0
TRACE_B = "b" * 32  # health check, at T0 + 10 s
TRACE_C = "c" * 32  # fast failed checkout, at T0 + 20 s
ALL = [TRACE_C, TRACE_B, TRACE_A]  # newest first
NOW = T0 + 60 * SECOND  # the app's clock: searches without start/end see the 48 h before
ENVELOPE_KEYS = {"data", "total", "limit", "offset", "errors"}


def _resource(service: str) -> tuple[Attribute, ...]:
    return (
        Attribute("service.name", "string", service),
        Attribute("deployment.environment", "string", "lab"),
    )


SPANS = [
    StoredSpan(
        trace_id=TRACE_A,
        span_id="a1" * 8,
        parent_span_id="",
        service="checkout",
        operation="POST /orders",
        kind=SpanKind.SERVER,
        start_ns=T0,
        end_ns=T0 + 300 * MS,
        attributes=(Attribute("http.status_code", "int64", 200),),
        resource_attributes=_resource("checkout"),
        flags=1,
        scope_name="opentelemetry.instrumentation.fastapi",
        scope_version="0.66b1",
    ),
    StoredSpan(
        trace_id=TRACE_A,
        span_id="a2" * 8,
        parent_span_id="a1" * 8,
        service="payments",
        operation="charge",
        kind=SpanKind.CLIENT,
        start_ns=T0 + 10 * MS,
        end_ns=T0 + 260 * MS,
        status_code=StatusCode.ERROR,
        status_message="card declined",
        attributes=(Attribute("amount", "float64", 12.5), Attribute("retry", "bool", False)),
        resource_attributes=_resource("payments"),
        events=(
            SpanEvent(
                "exception",
                T0 + 250 * MS,
                (Attribute("exception.type", "string", "CardDeclined"),),
            ),
        ),
        links=(SpanLink("d" * 32, "d1" * 8),),
        flags=1,
    ),
    StoredSpan(
        trace_id=TRACE_B,
        span_id="b1" * 8,
        parent_span_id="",
        service="checkout",
        operation="GET /health",
        kind=SpanKind.SERVER,
        start_ns=T0 + 10 * SECOND,
        end_ns=T0 + 10 * SECOND + 5 * MS,
        attributes=(Attribute("http.status_code", "int64", 200),),
        resource_attributes=_resource("checkout"),
    ),
    StoredSpan(
        trace_id=TRACE_C,
        span_id="c1" * 8,
        parent_span_id="",
        service="checkout",
        operation="POST /orders",
        kind=SpanKind.SERVER,
        start_ns=T0 + 20 * SECOND,
        end_ns=T0 + 20 * SECOND + 50 * MS,
        status_code=StatusCode.OK,
        attributes=(Attribute("http.status_code", "int64", 500),),
        resource_attributes=_resource("checkout"),
    ),
]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with store_client(tmp_path, clock=lambda: NOW) as (app, test_client):
        store: SpanStore = app.state.store
        await store.write_async(SPANS)
        yield test_client


async def search(client: httpx.AsyncClient, **params: str) -> list[str]:
    """Trace IDs found by ``GET /api/traces``, in answer order."""
    response = await client.get("/api/traces", params=params)
    assert response.status_code == 200, response.text
    return [trace["traceID"] for trace in response.json()["data"]]


async def test_services(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/services")

    assert response.status_code == 200
    assert response.json() == {
        "data": ["checkout", "payments"],
        "total": 2,
        "limit": 0,
        "offset": 0,
        "errors": None,
    }


async def test_operations_legacy_and_by_kind(client: httpx.AsyncClient) -> None:
    legacy = (await client.get("/api/services/checkout/operations")).json()
    assert legacy["data"] == ["GET /health", "POST /orders"]
    assert legacy["total"] == 2

    by_kind = (await client.get("/api/operations", params={"service": "payments"})).json()
    assert by_kind["data"] == [{"name": "charge", "spanKind": "client"}]
    servers = await client.get(
        "/api/operations", params={"service": "payments", "spanKind": "server"}
    )
    assert servers.json()["data"] == []


async def test_operations_need_a_service(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/operations")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"code": 400, "msg": "parameter 'service' is required"}]


async def test_search_by_service_newest_first_with_limit(client: httpx.AsyncClient) -> None:
    assert await search(client, service="checkout") == [TRACE_C, TRACE_B, TRACE_A]
    assert await search(client, service="checkout", limit="2") == [TRACE_C, TRACE_B]
    assert await search(client, service="payments") == [TRACE_A]
    assert await search(client, service="nobody") == []


async def test_search_by_operation(client: httpx.AsyncClient) -> None:
    assert await search(client, service="checkout", operation="POST /orders") == [TRACE_C, TRACE_A]
    assert await search(client, service="checkout", operation="charge") == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"service": "payments", "tags": '{"error":"true"}'}, [TRACE_A]),
        # A trace matches only when one span matches everything: checkout spans have no error.
        ({"service": "checkout", "tags": '{"error":"true"}'}, []),
        ({"service": "checkout", "tags": '{"http.status_code":"500"}'}, [TRACE_C]),
        ({"service": "checkout", "tag": "http.status_code:200"}, [TRACE_B, TRACE_A]),
        ({"service": "checkout", "tags": '{"otel.status_code":"OK"}'}, [TRACE_C]),
        ({"service": "payments", "tags": '{"span.kind":"client","retry":"false"}'}, [TRACE_A]),
        ({"service": "payments", "tags": '{"exception.type":"CardDeclined"}'}, [TRACE_A]),
        ({"service": "payments", "tags": '{"event":"exception","amount":"12.5"}'}, [TRACE_A]),
        ({"service": "payments", "tags": '{"otel.status_description":"card declined"}'}, [TRACE_A]),
        ({"service": "checkout", "tags": '{"deployment.environment":"lab"}'}, ALL),
        ({"service": "checkout", "tags": '{"http.status_code":"500","error":"true"}'}, []),
    ],
)  # fmt: skip
async def test_search_by_tags(
    client: httpx.AsyncClient, params: dict[str, str], expected: list[str]
) -> None:
    assert await search(client, **params) == expected


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"minDuration": "100ms"}, [TRACE_A]),
        ({"minDuration": "300ms"}, [TRACE_A]),
        ({"minDuration": "0.3001s"}, []),
        ({"maxDuration": "10ms"}, [TRACE_B]),
        ({"minDuration": "5000us", "maxDuration": "50ms"}, [TRACE_C, TRACE_B]),
    ],
)
async def test_search_by_duration(
    client: httpx.AsyncClient, params: dict[str, str], expected: list[str]
) -> None:
    assert await search(client, service="checkout", **params) == expected


async def test_search_by_time_window_in_microseconds(client: httpx.AsyncClient) -> None:
    start_us = (T0 + 5 * SECOND) // 1_000
    end_us = (T0 + 15 * SECOND) // 1_000

    assert await search(client, service="checkout", start=str(start_us), end=str(end_us)) == [
        TRACE_B
    ]
    assert await search(client, service="checkout", start=str(start_us)) == [TRACE_C, TRACE_B]
    assert await search(client, service="checkout", end=str(end_us)) == [TRACE_B, TRACE_A]


async def test_search_returns_whole_traces_in_jaeger_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/traces", params={"service": "payments"})
    body = response.json()

    assert set(body) == ENVELOPE_KEYS
    assert (body["total"], body["limit"], body["offset"], body["errors"]) == (0, 0, 0, None)
    (trace,) = body["data"]
    assert set(trace) == {"traceID", "spans", "processes", "warnings"}
    assert trace["warnings"] is None
    assert trace["processes"] == {
        "p1": {
            "serviceName": "checkout",
            "tags": [{"key": "deployment.environment", "type": "string", "value": "lab"}],
        },
        "p2": {
            "serviceName": "payments",
            "tags": [{"key": "deployment.environment", "type": "string", "value": "lab"}],
        },
    }
    root, child = trace["spans"]
    assert root == {
        "traceID": TRACE_A,
        "spanID": "a1" * 8,
        "flags": 1,
        "operationName": "POST /orders",
        "references": [],
        "startTime": T0 // 1_000,
        "duration": 300_000,
        "tags": [
            {"key": "http.status_code", "type": "int64", "value": 200},
            {
                "key": "otel.scope.name",
                "type": "string",
                "value": "opentelemetry.instrumentation.fastapi",
            },
            {"key": "otel.scope.version", "type": "string", "value": "0.66b1"},
            {"key": "span.kind", "type": "string", "value": "server"},
        ],
        "logs": [],
        "processID": "p1",
        "warnings": None,
    }
    assert child["references"] == [
        {"refType": "CHILD_OF", "traceID": TRACE_A, "spanID": "a1" * 8},
        {"refType": "FOLLOWS_FROM", "traceID": "d" * 32, "spanID": "d1" * 8},
    ]
    assert child["processID"] == "p2"
    assert child["duration"] == 250_000
    assert child["tags"] == [
        {"key": "amount", "type": "float64", "value": 12.5},
        {"key": "retry", "type": "bool", "value": False},
        {"key": "span.kind", "type": "string", "value": "client"},
        {"key": "otel.status_code", "type": "string", "value": "ERROR"},
        {"key": "error", "type": "bool", "value": True},
        {"key": "otel.status_description", "type": "string", "value": "card declined"},
    ]
    assert child["logs"] == [
        {
            "timestamp": (T0 + 250 * MS) // 1_000,
            "fields": [
                {"key": "event", "type": "string", "value": "exception"},
                {"key": "exception.type", "type": "string", "value": "CardDeclined"},
            ],
        }
    ]


async def test_get_trace_by_id(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/traces/{TRACE_B.upper()}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == ENVELOPE_KEYS
    assert [trace["traceID"] for trace in body["data"]] == [TRACE_B]
    assert [span["spanID"] for span in body["data"][0]["spans"]] == ["b1" * 8]


async def test_unknown_trace_is_404_in_jaeger_shape(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/api/traces/{'e' * 32}")

    assert response.status_code == 404
    assert response.json() == {
        "data": None,
        "total": 0,
        "limit": 0,
        "offset": 0,
        "errors": [{"code": 404, "msg": "trace not found"}],
    }


async def test_search_by_trace_ids_reports_missing_ones(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/traces", params=[("traceID", TRACE_C), ("traceID", "f" * 32)])

    body = response.json()
    assert [trace["traceID"] for trace in body["data"]] == [TRACE_C]
    assert body["errors"] == [{"msg": "trace not found", "traceID": "f" * 32}]


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/traces", {}, "parameter 'service' is required"),
        ("/api/traces", {"service": "checkout", "tags": "{nope"}, "malformed 'tags'"),
        ("/api/traces", {"service": "checkout", "minDuration": "fast"}, "'minDuration'"),
        ("/api/traces", {"service": "checkout", "start": "today"}, "'start'"),
        ("/api/traces/not-a-trace-id", {}, "not 1-32 hex digits"),
        ("/api/operations", {"service": "checkout", "spanKind": "sideways"}, "'spanKind'"),
    ],
)
async def test_bad_queries_are_400_in_jaeger_shape(
    client: httpx.AsyncClient, path: str, params: dict[str, str], message: str
) -> None:
    response = await client.get(path, params=params)

    assert response.status_code == 400
    body: dict[str, Any] = response.json()
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["code"] == 400
    assert message in error["msg"]


async def test_responses_are_plain_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/traces", params={"service": "checkout"})

    assert response.headers["content-type"] == "application/json"
    assert json.loads(response.content) == response.json()
