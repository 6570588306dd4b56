"""JaegerClient against the real embedded trace store, fed by the real OpenTelemetry SDK."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from assertions import JaegerClient, QueryError, Trace
from stack.tracestore import TraceStoreProcess
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TraceStoreProcess]:
    with TraceStoreProcess(tmp_path_factory.mktemp("tracestore")) as process:
        yield process


def provider(service: str, endpoint: str) -> TracerProvider:
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": service}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return tracer_provider


def emit(store: TraceStoreProcess, run_id: str) -> str:
    """api (server span, slow, failing) → db child and a worker child; returns the trace id."""
    api, worker = provider("api", store.otlp_endpoint), provider("worker", store.otlp_endpoint)
    try:
        api_tracer = api.get_tracer("tests.api")
        with api_tracer.start_as_current_span(
            "POST /orders", kind=trace.SpanKind.SERVER, attributes={"chaoslab.run_id": run_id}
        ) as root:
            with api_tracer.start_as_current_span("SELECT", attributes={"db.system": "postgresql"}):
                time.sleep(0.3)
            with worker.get_tracer("tests.worker").start_as_current_span(
                "charge", attributes={"retries": 2}
            ):
                pass
            root.set_status(Status(StatusCode.ERROR, "boom"))
        return format(root.get_span_context().trace_id, "032x")
    finally:
        api.shutdown()
        worker.shutdown()


@pytest.fixture(scope="module")
def emitted(store: TraceStoreProcess) -> tuple[str, str, datetime]:
    run_id = f"it-{uuid.uuid4().hex[:8]}"
    started = datetime.now(UTC)
    return run_id, emit(store, run_id), started


def test_find_by_run_id_and_read_the_tree(
    store: TraceStoreProcess, emitted: tuple[str, str, datetime]
) -> None:
    run_id, trace_id, started = emitted
    jaeger = JaegerClient(store.url)

    traces = eventually(
        lambda: jaeger.find_traces(
            "api", tags={"chaoslab.run_id": run_id, "error": True}, start=started
        )
    )

    [found] = traces
    assert found.trace_id == trace_id
    root = found.root
    assert root is not None
    assert root.operation == "POST /orders"
    assert root.error
    assert root.kind == "server"
    assert root.duration_s >= 0.3
    assert root.start >= started - timedelta(seconds=1)
    children = found.children(root)
    assert [(c.service, c.operation) for c in children] == [("api", "SELECT"), ("worker", "charge")]
    assert children[1].tags["retries"] == 2
    assert found.descendants(root) == children
    assert found.services == ["api", "worker"]


def test_filters_narrow_the_search(
    store: TraceStoreProcess, emitted: tuple[str, str, datetime]
) -> None:
    _, trace_id, started = emitted
    jaeger = JaegerClient(store.url)
    eventually(lambda: jaeger.trace(trace_id))

    def ids(found: list[Trace]) -> list[str]:
        return [t.trace_id for t in found]

    find = jaeger.find_traces
    assert ids(find("api", operation="SELECT", min_duration=0.25, start=started)) == [trace_id]
    assert ids(find("api", operation="SELECT", min_duration=5, start=started)) == []
    assert ids(find("api", tags={"chaoslab.run_id": "someone-else"}, start=started)) == []
    assert ids(find("api", start=started, end=started - timedelta(minutes=1))) == []
    assert jaeger.find_traces("worker", tags={"retries": 2}, start=started)[0].trace_id == trace_id
    assert {"api", "worker"} <= set(jaeger.services())
    assert "charge" in jaeger.operations("worker")


def test_fetch_by_id_and_missing_id(
    store: TraceStoreProcess, emitted: tuple[str, str, datetime]
) -> None:
    _, trace_id, _ = emitted
    jaeger = JaegerClient(store.url)

    found = eventually(lambda: jaeger.trace(trace_id))

    assert len(found.spans) == 3
    assert jaeger.trace(uuid.uuid4().hex) is None


def test_rejected_search_is_a_query_error(store: TraceStoreProcess) -> None:
    with pytest.raises(QueryError) as caught:
        JaegerClient(store.url).find_traces("api", min_duration=2, max_duration=1)

    assert "maxDuration" in caught.value.message
    assert "minDuration=2000000us" in caught.value.query
