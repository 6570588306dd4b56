"""The trace store as a real process, fed by the real OpenTelemetry SDK and exporter."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from stack.exceptions import ComponentFailed
from stack.ports import LOOPBACK, is_listening
from stack.process import pid_alive
from stack.tracestore import TraceStoreProcess, TraceStoreServer

pytestmark = pytest.mark.integration

FLUSH_TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def trace_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TraceStoreProcess]:
    with TraceStoreProcess(tmp_path_factory.mktemp("tracestore")) as store:
        yield store


def make_provider(service: str, endpoint: str, compression: Compression) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "deployment.environment": "lab"})
    )
    exporter = OTLPSpanExporter(endpoint=endpoint, compression=compression, timeout=10)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def get_json(url: str, **params: str) -> Any:
    response = httpx.get(url, params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def emit_two_service_trace(endpoint: str, run_id: str) -> str:
    """checkout (server → client span) calls payments over W3C traceparent; returns the trace ID."""
    checkout = make_provider("checkout", endpoint, Compression.NoCompression)
    payments = make_provider("payments", endpoint, Compression.Gzip)
    propagator = TraceContextTextMapPropagator()
    try:
        checkout_tracer = checkout.get_tracer("chaoslab.tests.checkout")
        with checkout_tracer.start_as_current_span(
            "POST /orders",
            kind=trace.SpanKind.SERVER,
            attributes={"http.route": "/orders", "run_id": run_id},
        ) as root:
            with checkout_tracer.start_as_current_span(
                "POST payments/charge", kind=trace.SpanKind.CLIENT
            ):
                headers: dict[str, str] = {}
                propagator.inject(headers)

            # --- the "payments" service receives the request headers -------------------
            incoming = propagator.extract(headers)
            payments_tracer = payments.get_tracer("chaoslab.tests.payments")
            with payments_tracer.start_as_current_span(
                "POST /charge",
                context=incoming,
                kind=trace.SpanKind.SERVER,
                attributes={"http.status_code": 502, "run_id": run_id},
            ) as charge:
                time.sleep(0.2)
                charge.record_exception(TimeoutError("bank did not answer"))
                charge.set_status(trace.Status(trace.StatusCode.ERROR, "bank timeout"))
        assert checkout.force_flush(FLUSH_TIMEOUT_MS)
        assert payments.force_flush(FLUSH_TIMEOUT_MS)
        return format(root.get_span_context().trace_id, "032x")
    finally:
        checkout.shutdown()
        payments.shutdown()


def tags_of(span: dict[str, Any]) -> dict[str, object]:
    return {tag["key"]: tag["value"] for tag in span["tags"]}


def test_sdk_spans_across_two_services_form_one_trace(trace_store: TraceStoreProcess) -> None:
    run_id = uuid.uuid4().hex
    trace_id = emit_two_service_trace(trace_store.otlp_endpoint, run_id)

    services = get_json(f"{trace_store.url}/api/services")["data"]
    assert {"checkout", "payments"} <= set(services)

    (found,) = get_json(f"{trace_store.url}/api/traces/{trace_id}")["data"]
    process_services = {p["serviceName"] for p in found["processes"].values()}
    assert process_services == {"checkout", "payments"}
    by_name = {span["operationName"]: span for span in found["spans"]}
    assert set(by_name) == {"POST /orders", "POST payments/charge", "POST /charge"}
    root, client, charge = (
        by_name["POST /orders"],
        by_name["POST payments/charge"],
        by_name["POST /charge"],
    )
    assert root["references"] == []
    assert client["references"] == [
        {"refType": "CHILD_OF", "traceID": trace_id, "spanID": root["spanID"]}
    ]
    assert charge["references"] == [
        {"refType": "CHILD_OF", "traceID": trace_id, "spanID": client["spanID"]}
    ]
    assert found["processes"][charge["processID"]]["serviceName"] == "payments"
    assert found["processes"][root["processID"]]["serviceName"] == "checkout"

    charge_tags = tags_of(charge)
    assert charge_tags["http.status_code"] == 502
    assert charge_tags["span.kind"] == "server"
    assert charge_tags["error"] is True
    assert charge_tags["otel.status_code"] == "ERROR"
    assert charge_tags["otel.status_description"] == "bank timeout"
    assert charge_tags["otel.scope.name"] == "chaoslab.tests.payments"
    assert tags_of(client)["span.kind"] == "client"
    (exception_log,) = charge["logs"]
    fields = {field["key"]: field["value"] for field in exception_log["fields"]}
    assert fields["event"] == "exception"
    assert fields["exception.type"] == "TimeoutError"
    # The Python SDK puts only the is-remote bits in OTLP span flags, so the W3C flags are 0.
    assert charge["flags"] == 0


def test_search_filters_on_duration_and_tags(trace_store: TraceStoreProcess) -> None:
    run_id = uuid.uuid4().hex
    trace_id = emit_two_service_trace(trace_store.otlp_endpoint, run_id)
    search = f"{trace_store.url}/api/traces"
    mine = f'{{"run_id":"{run_id}"}}'

    def found(**params: str) -> list[str]:
        return [t["traceID"] for t in get_json(search, **params)["data"]]

    assert found(service="payments", tags=mine, minDuration="150ms") == [trace_id]
    assert found(service="payments", tags=mine, minDuration="1s") == []
    assert found(service="payments", tags=mine, maxDuration="150ms") == []
    assert found(service="payments", tags=f'{{"run_id":"{run_id}","error":"true"}}') == [trace_id]
    assert found(service="checkout", tags=f'{{"run_id":"{run_id}","error":"true"}}') == []
    assert found(service="checkout", operation="POST /orders", tags=mine) == [trace_id]
    now_us = time.time_ns() // 1_000
    assert found(service="payments", tags=mine, end=str(now_us - 3_600_000_000)) == []


def test_spans_survive_a_restart_and_stop_ends_the_process(tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex
    with TraceStoreProcess(tmp_path) as store:
        trace_id = emit_two_service_trace(store.otlp_endpoint, run_id)
        first_pid = store.pid
    assert not pid_alive(first_pid)
    assert not is_listening(store.port)

    with TraceStoreProcess(tmp_path) as restarted:
        data = get_json(f"{restarted.url}/api/traces/{trace_id}")["data"]
        assert len(data[0]["spans"]) == 3
    assert restarted.db_path.is_file()
    assert restarted.log_path.read_text()


def test_a_port_in_use_is_a_component_failure(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        busy = TraceStoreProcess(tmp_path, port=sock.getsockname()[1])
        with pytest.raises(ComponentFailed, match="traces failed"):
            busy.start()
    assert busy.process is not None
    assert not busy.process.running()


def test_in_process_server_serves_and_stops(tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex
    with TraceStoreServer(tmp_path) as server:
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        trace_id = emit_two_service_trace(server.otlp_endpoint, run_id)
        found = get_json(
            f"{server.url}/api/traces", service="checkout", tags=f'{{"run_id":"{run_id}"}}'
        )
        assert [t["traceID"] for t in found["data"]] == [trace_id]
    assert not is_listening(server.port)
