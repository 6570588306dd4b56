"""One request: a trace across target and classifier, and log lines that point at it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from stack.tracestore import TraceStoreProcess
from tests.integration.target.conftest import StartTarget, find_traces, read_log_when

pytestmark = pytest.mark.integration


EXPECTED_OPERATIONS = {"db.pool.acquire", "document.classify", "document.store", "classifier.infer"}


def tag(span: dict[str, Any], key: str) -> Any:
    return next((t["value"] for t in span["tags"] if t["key"] == key), None)


def test_request_is_one_trace_across_both_services_and_its_logs_carry_it(
    start_target: StartTarget, trace_store: TraceStoreProcess
) -> None:
    target = start_target()
    response = httpx.post(
        target.url + "/api/documents",
        json={
            "title": "lease",
            "body": "signed by erin@example.com",
            "owner_email": "erin@example.com",
        },
        headers={"X-Request-ID": "req-correlation-1", "X-Chaoslab-Run": "run-corr-1"},
        timeout=10,
    )
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "req-correlation-1"

    def complete(traces: list[dict[str, Any]]) -> bool:
        """Every span of both services exported (each service exports in its own batches)."""
        return any(
            {span["operationName"] for span in trace["spans"]} >= EXPECTED_OPERATIONS
            and any(
                trace["processes"][span["processID"]]["serviceName"] == "classifier"
                and tag(span, "span.kind") == "server"
                for span in trace["spans"]
            )
            for trace in traces
        )

    query = {"service": "target", "tags": json.dumps({"http.request_id": "req-correlation-1"})}
    traces = find_traces(trace_store, query, complete)
    assert len(traces) == 1, f"expected one trace for the request, found {len(traces)}"
    trace = traces[0]
    services = {trace["processes"][s["processID"]]["serviceName"] for s in trace["spans"]}
    assert services == {"target", "classifier"}
    by_id = {span["spanID"]: span for span in trace["spans"]}
    assert all(span["traceID"] == trace["traceID"] for span in trace["spans"])

    def service_of(span: dict[str, Any]) -> str:
        name: str = trace["processes"][span["processID"]]["serviceName"]
        return name

    # The classifier's server span is a child of a target span (the httpx client span).
    classifier_roots = [
        span
        for span in trace["spans"]
        if service_of(span) == "classifier" and tag(span, "span.kind") == "server"
    ]
    assert len(classifier_roots) == 1
    parent_ids = [ref["spanID"] for ref in classifier_roots[0]["references"]]
    assert len(parent_ids) == 1
    assert service_of(by_id[parent_ids[0]]) == "target"
    assert tag(by_id[parent_ids[0]], "span.kind") == "client"

    names = {span["operationName"] for span in trace["spans"]}
    assert names >= EXPECTED_OPERATIONS
    # run_id travels as a span attribute on both sides (baggage to the classifier).
    assert {service_of(s) for s in trace["spans"] if tag(s, "chaoslab.run_id") == "run-corr-1"} == {
        "target",
        "classifier",
    }

    def access_line(line: dict[str, Any]) -> bool:
        return line["event"] == "http.request" and line.get("route") == "/api/documents"

    lines = read_log_when(target.log_dir / "target.jsonl", lambda got: any(map(access_line, got)))
    created = [line for line in lines if line["event"] == "document.created"]
    assert len(created) == 1
    line = created[0]
    assert line["trace_id"] == trace["traceID"]
    assert line["span_id"] in by_id
    assert line["request_id"] == "req-correlation-1"
    assert line["run_id"] == "run-corr-1"
    assert line["owner_email"] == "e***@example.com"
    assert "erin@example.com" not in (target.log_dir / "target.jsonl").read_text()
    for field in ("timestamp", "level", "service", "version", "environment"):
        assert field in line, field
    access = [x for x in lines if access_line(x)]
    assert access[-1]["trace_id"] == trace["traceID"]
    assert access[-1]["status"] == 201
