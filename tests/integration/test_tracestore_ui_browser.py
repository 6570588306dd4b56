"""The trace store's pages in headless chromium, served by the real trace store process."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from stack.tracestore import TraceStoreProcess
from tests.integration.browser import BrowserResult, open_page

pytestmark = pytest.mark.integration

MS = 1_000_000
SCRIPT = "<script>document.title='pwned'</script>"
ROOT, CHILD, FAILING, GRANDCHILD = "1" * 16, "2" * 16, "3" * 16, "4" * 16


def attribute(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def span(trace_id: str, span_id: str, parent: str, name: str, start_ns: int, end_ns: int) -> Span:
    return Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id),
        parent_span_id=bytes.fromhex(parent),
        name=name,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=end_ns,
    )


@pytest.fixture(scope="module")
def trace_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TraceStoreProcess]:
    with TraceStoreProcess(tmp_path_factory.mktemp("tracestore")) as store:
        yield store


@pytest.fixture(scope="module")
def service() -> str:
    return f"checkout-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def trace_id(trace_store: TraceStoreProcess, service: str) -> str:
    """One trace posted over OTLP/HTTP: root → child → grandchild, and a failing child."""
    trace_id = uuid.uuid4().hex
    t0 = time.time_ns() - 2_000 * MS
    root = span(trace_id, ROOT, "", "POST /orders", t0, t0 + 400 * MS)
    root.attributes.extend([attribute("note", SCRIPT)])
    failing = span(trace_id, FAILING, ROOT, "charge", t0 + 50 * MS, t0 + 120 * MS)
    failing.status.CopyFrom(Status(code=Status.STATUS_CODE_ERROR, message="card declined"))
    checkout = [root, failing, span(trace_id, CHILD, ROOT, "reserve", t0 + 10 * MS, t0 + 300 * MS)]
    inventory = [span(trace_id, GRANDCHILD, CHILD, "SELECT stock", t0 + 200 * MS, t0 + 280 * MS)]
    body = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[attribute("service.name", name)]),
                scope_spans=[ScopeSpans(spans=spans)],
            )
            for name, spans in ((service, checkout), ("inventory", inventory))
        ]
    ).SerializeToString()
    response = httpx.post(
        trace_store.otlp_endpoint,
        content=body,
        headers={"Content-Type": "application/x-protobuf"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return trace_id


def assert_offline_and_quiet(result: BrowserResult, page_url: str) -> None:
    assert result.console_errors == []
    assert result.network_requests == [], "the page loaded something beyond its origin"
    assert result.origin_requests == [page_url], "the page loaded more than itself"


def test_search_page_lists_the_trace(
    trace_store: TraceStoreProcess, service: str, trace_id: str, tmp_path: Path
) -> None:
    url = f"{trace_store.url}/search?service={service}"

    result = open_page(url, tmp_path / "search.png")

    assert_offline_and_quiet(result, url)
    assert re.findall(r'data-trace-id="([0-9a-f]+)"', result.dom) == [trace_id]
    assert f'href="/trace/{trace_id}"' in result.dom
    assert f'<option value="{service}" selected="">{service}</option>' in result.dom
    assert result.width >= 1000
    assert result.png_bytes > 10_000, "the screenshot is (almost) blank"


def test_trace_page_shows_the_waterfall(
    trace_store: TraceStoreProcess, trace_id: str, tmp_path: Path
) -> None:
    url = f"{trace_store.url}/trace/{trace_id}"

    result = open_page(url, tmp_path / "trace.png")

    assert_offline_and_quiet(result, url)
    rows = re.findall(r'data-span-id="([0-9a-f]+)"[^>]*data-depth="(\d+)"', result.dom)
    assert rows == [(ROOT, "0"), (CHILD, "1"), (GRANDCHILD, "2"), (FAILING, "1")]
    assert re.search(rf'class="span error" id="span-{FAILING}"', result.dom)
    assert "SELECT stock" in result.dom
    assert "<script" not in result.dom.lower(), "an attribute value became markup"
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in result.dom
    assert "<title>checkout-" in result.dom
    assert result.png_bytes > 10_000, "the screenshot is (almost) blank"
