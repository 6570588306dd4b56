"""``POST /v1/traces`` over HTTP: status codes and bodies the OTLP spec asks for."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]  # googleapis-common-protos ships no stubs
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from stack.tracestore import create_app, receiver
from stack.tracestore.storage import SpanStore

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


def otlp_json(span_id: str = "b7ad6b7169203331", service: str = "checkout") -> dict[str, object]:
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE_ID,
                                "spanId": span_id,
                                "name": "GET /",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000100000000",
                            }
                        ]
                    }
                ],
            }
        ]
    }


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(tmp_path / "traces.sqlite3")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://tracestore") as test_client,
    ):
        yield test_client


def stored(app: FastAPI) -> int:
    store: SpanStore = app.state.store
    return store.count()


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_json_export_is_stored_and_answered_in_json(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post("/v1/traces", json=otlp_json())

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert stored(app) == 1


async def test_gzip_protobuf_export_is_answered_in_protobuf(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    span = Span(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex("b7ad6b7169203331"),
        name="GET /",
        start_time_unix_nano=1,
        end_time_unix_nano=2,
    )
    body = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(scope_spans=[ScopeSpans(spans=[span])])]
    ).SerializeToString()
    response = await client.post(
        "/v1/traces",
        content=gzip.compress(body),
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert ExportTraceServiceResponse.FromString(response.content).ByteSize() == 0
    assert stored(app) == 1


async def test_partial_success_when_some_spans_are_malformed(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    document = otlp_json()
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]  # type: ignore[index]  # a literal built above
    spans.append({**spans[0], "spanId": "00"})

    response = await client.post("/v1/traces", json=document)

    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert stored(app) == 1


async def test_garbage_protobuf_is_400_with_a_status(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        "/v1/traces", content=b"not a protobuf", headers={"Content-Type": "application/x-protobuf"}
    )

    assert response.status_code == 400
    status = Status.FromString(response.content)
    assert "not a protobuf ExportTraceServiceRequest" in status.message
    assert stored(app) == 0


async def test_garbage_json_is_400_with_a_readable_message(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    response = await client.post(
        "/v1/traces", content=b"{oops", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert "body is not JSON" in response.json()["message"]


async def test_unsupported_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/traces", content=b"x", headers={"Content-Type": "text/plain"})

    assert response.status_code == 415
    assert "application/x-protobuf" in response.json()["message"]


async def test_oversized_body_is_413(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiver, "MAX_BODY_BYTES", 100)

    response = await client.post("/v1/traces", json=otlp_json())

    assert response.status_code == 413
    assert stored(app) == 0


async def test_wrong_method_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/traces")

    assert response.status_code == 405
