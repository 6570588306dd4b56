"""JaegerClient and the span tree, on responses recorded from the lab's trace store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from assertions import JaegerClient, QueryError, Trace
from assertions.spans import Span, SpanReference, from_micros, to_micros
from assertions.traces import go_duration
from tests.unit.recorded.replay import Replay, dig_str, recorded

RUN_ID = "rec-20240601-0001"


def client(*fixtures: str) -> tuple[JaegerClient, Replay]:
    replay = Replay(*fixtures)
    return JaegerClient("http://jaeger.test", transport=replay.transport), replay


def slow_traces() -> list[Trace]:
    jaeger, _ = client("jaeger_traces_slow")
    return jaeger.find_traces("target", min_duration=0.25)


def test_services() -> None:
    jaeger, replay = client("jaeger_services")
    assert jaeger.services() == ["classifier", "target"]
    assert replay.last.url.path == "/api/services"


def test_search_sends_every_filter_in_jaeger_form() -> None:
    jaeger, replay = client("jaeger_traces_run")
    start = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

    jaeger.find_traces(
        "target",
        operation="GET /api/documents",
        tags={"chaoslab.run_id": RUN_ID, "error": True, "http.status_code": 500},
        start=start,
        end=start + timedelta(seconds=30),
        min_duration=timedelta(milliseconds=250),
        max_duration=2,
        limit=3,
    )

    params = replay.last.url.params
    assert params["service"] == "target"
    assert params["operation"] == "GET /api/documents"
    assert json.loads(params["tags"]) == {
        "chaoslab.run_id": RUN_ID,
        "error": "true",
        "http.status_code": "500",
    }
    assert params["start"] == "1717243200000000"
    assert params["end"] == "1717243230000000"
    assert params["minDuration"] == "250000us"
    assert params["maxDuration"] == "2000000us"
    assert params["limit"] == "3"


def test_error_traces_of_a_run() -> None:
    jaeger, _ = client("jaeger_traces_run")

    traces = jaeger.find_traces("target", tags={"chaoslab.run_id": RUN_ID, "error": True})

    assert len(traces) == 3
    for trace in traces:
        root = trace.root
        assert root is not None
        assert root.service == "target"
        assert root.error
        assert root.status_code == "ERROR"
        assert root.kind == "server"
        assert root.tags["http.status_code"] == 500
        assert root.attribute("chaoslab.run_id") == RUN_ID
        assert root.attribute("telemetry.sdk.language") == "python"  # a process tag
        assert trace.errors == [root]


def test_tags_keep_their_jaeger_types() -> None:
    [trace, *_] = slow_traces()
    root = trace.root
    assert root is not None
    assert isinstance(root.tags["http.status_code"], int)
    assert isinstance(root.tags["http.method"], str)
    assert root.attribute("no.such.tag") is None


def test_span_tree_across_services() -> None:
    trace = next(t for t in slow_traces() if "classifier" in t.services)

    root = trace.root
    assert root is not None
    assert root.operation == "POST /api/documents"
    assert root.parent_span_id is None
    assert trace.roots == [root]
    descendants = trace.descendants(root)
    assert len(descendants) == len(trace.spans) - 1
    classify = trace.find(service="classifier", operation="classifier.infer")
    [infer] = classify
    ancestors = trace.ancestors(infer)
    assert ancestors[-1] == root
    assert [a.service for a in ancestors][-1] == "target"
    assert any(a.service == "classifier" for a in ancestors)
    parent = trace.parent(infer)
    assert parent is not None
    assert infer in trace.children(parent)
    assert infer in trace.descendants(root)
    assert trace.depth(infer) == len(ancestors)
    assert trace.render().splitlines()[0].startswith("target: POST /api/documents")


def test_children_are_in_start_order() -> None:
    for trace in slow_traces():
        for span in trace.spans:
            starts = [child.start_us for child in trace.children(span)]
            assert starts == sorted(starts)


def test_span_timing_helpers() -> None:
    [trace, *_] = slow_traces()
    root = trace.root
    assert root is not None
    assert root.duration_s >= 0.25
    assert root.duration == timedelta(microseconds=root.duration_us)
    assert root.end - root.start == root.duration
    assert root.start.tzinfo is UTC
    assert to_micros(root.start) == root.start_us
    assert trace.duration_s >= root.duration_s
    assert from_micros(1_717_243_200_000_001) == datetime(2024, 6, 1, 12, 0, 0, 1, tzinfo=UTC)


def test_fetch_one_trace_by_id() -> None:
    jaeger, replay = client("jaeger_trace")

    trace_id = dig_str(recorded("jaeger_trace").body, "data", 0, "traceID")

    trace = jaeger.trace(trace_id)

    assert trace is not None
    assert trace.trace_id == trace_id
    assert replay.last.url.path == f"/api/traces/{trace_id}"


def test_missing_trace_is_none() -> None:
    jaeger, _ = client("jaeger_trace_missing")
    assert jaeger.trace("0" * 31 + "1") is None


def test_no_traces_found_is_an_empty_list() -> None:
    jaeger, _ = client("jaeger_traces_none")
    assert jaeger.find_traces("nobody") == []


def test_rejected_search_is_a_query_error_showing_the_search() -> None:
    jaeger, _ = client("jaeger_traces_bad_duration")

    with pytest.raises(QueryError) as caught:
        jaeger.find_traces("target", min_duration=1)

    assert "minDuration" in caught.value.message
    assert caught.value.query.startswith("GET /api/traces?service=target")


def test_error_flag_from_either_tag() -> None:
    def span(**tags: str | bool) -> Span:
        return Span(
            trace_id="t", span_id="s", operation="op", service="svc",
            start_us=0, duration_us=1, tags=tags,
        )  # fmt: skip

    assert span(error=True).error
    assert span(error="true").error
    assert span(**{"otel.status_code": "ERROR"}).error
    assert not span(**{"otel.status_code": "OK"}).error
    assert not span().error


def test_orphans_and_loops_do_not_break_the_tree() -> None:
    def span(span_id: str, parent: str | None, start: int) -> Span:
        refs = (
            []
            if parent is None
            else [SpanReference(ref_type="CHILD_OF", trace_id="t", span_id=parent)]
        )
        return Span(
            trace_id="t", span_id=span_id, operation=span_id, service="svc",
            start_us=start, duration_us=1, references=refs,
        )  # fmt: skip

    trace = Trace(
        trace_id="t",
        spans=[span("a", None, 1), span("b", "missing", 0), span("c", "d", 2), span("d", "c", 3)],
    )
    assert [s.span_id for s in trace.roots] == ["b", "a"]
    assert trace.root is not None
    assert trace.root.span_id == "b"
    c = trace.span("c")
    assert c is not None
    assert [s.span_id for s in trace.descendants(c)] == ["d"]
    assert [s.span_id for s in trace.ancestors(c)] == ["d"]


def test_go_duration() -> None:
    assert go_duration(1.5) == "1500000us"
    assert go_duration(timedelta(milliseconds=3)) == "3000us"
