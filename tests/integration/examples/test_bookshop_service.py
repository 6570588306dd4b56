"""The bookshop example against real PostgreSQL and a real pricing process.

Endpoints, metrics, JSON logs with run and trace ids, and the two failure
modes: pricing gone or slow (a quick 502) and PostgreSQL gone (a quick 503,
then recovery). Sentry events go to a real HTTP sink, spans to the trace store.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.postgres import PostgresCluster
from stack.tracestore import TraceStoreProcess
from tests.integration.examples.conftest import (
    StartService,
    metric_value,
    read_log,
    wait_for,
)
from tests.integration.target.sentry_sink import SentrySink

pytestmark = pytest.mark.integration

RUN = {"X-Chaoslab-Run": "abc"}
TRACE_ID = re.compile(r"[0-9a-f]{32}")
BOOKSHOP_METRICS = (
    "bookshop_requests_total",
    "bookshop_request_latency_seconds_bucket",
    "bookshop_db_errors_total",
    "bookshop_pricing_latency_seconds_bucket",
    "bookshop_pricing_failures_total",
)


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, since the test stops it."""
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def sentry_sink() -> Iterator[SentrySink]:
    with SentrySink() as sink:
        yield sink


def last_exception_type(event: dict[str, Any]) -> str:
    """The type of the raised exception (Sentry lists a chain cause first)."""
    values = event.get("exception", {}).get("values", [])
    return str(values[-1]["type"]) if values else ""


def completed(log: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [r for r in log if r.get("event") == "request.completed" and r.get("path") == path]


def test_endpoints_answer_and_bad_input_is_never_a_5xx(
    postgres: PostgresCluster, start_pricing: StartService, start_bookshop: StartService
) -> None:
    pricing = start_pricing()
    bookshop = start_bookshop(postgres.dsn(), pricing.url)
    url = bookshop.url

    assert httpx.get(url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(url + "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "database": {"ok": True, "error": None},
        "pricing": {"ok": True, "error": None},
    }

    listing = httpx.get(url + "/books", params={"limit": 100})
    assert listing.status_code == 200, listing.text
    books = listing.json()["books"]
    assert len(books) == 50
    assert [book["id"] for book in books] == list(range(1, 51))

    book = httpx.get(url + "/books/7")
    assert book.status_code == 200, book.text
    body = book.json()
    assert body["id"] == 7
    direct = httpx.get(f"{pricing.url}/prices/{body['isbn']}").json()
    assert body["price_cents"] == direct["price_cents"]
    assert body["currency"] == direct["currency"] == "EUR"

    order = httpx.post(url + "/orders", json={"book_id": 7, "quantity": 3})
    assert order.status_code == 201, order.text
    placed = order.json()
    assert placed["book_id"] == 7
    assert placed["quantity"] == 3
    assert placed["total_cents"] == 3 * direct["price_cents"]

    bad: list[tuple[str, str, Any, int]] = [
        ("GET", "/books/abc", None, 404),
        ("GET", "/books/0", None, 404),
        ("GET", "/books/999999", None, 404),
        ("GET", "/books/99999999999999", None, 404),
        ("GET", "/books?limit=0", None, 400),
        ("GET", "/books?limit=x", None, 400),
        ("GET", "/nowhere", None, 404),
        ("DELETE", "/books/1", None, 405),
        ("POST", "/orders", b"{not json", 400),
        ("POST", "/orders", b"[1, 2]", 400),
        ("POST", "/orders", {"book_id": "7", "quantity": 1}, 422),
        ("POST", "/orders", {"book_id": True, "quantity": 1}, 422),
        ("POST", "/orders", {"book_id": 7, "quantity": 0}, 422),
        ("POST", "/orders", {"book_id": 7}, 422),
        ("POST", "/orders", {"book_id": 2**40, "quantity": 1}, 422),
        ("POST", "/orders", {"book_id": 999999, "quantity": 1}, 404),
    ]
    for method, path, payload, expected in bad:
        if isinstance(payload, bytes):
            response = httpx.request(
                method, url + path, content=payload, headers={"content-type": "application/json"}
            )
        else:
            response = httpx.request(method, url + path, json=payload)
        assert response.status_code == expected, (method, path, payload, response.text)
        assert "error" in response.json()


def test_metrics_use_the_bookshop_names_and_route_templates(
    postgres: PostgresCluster, start_pricing: StartService, start_bookshop: StartService
) -> None:
    pricing = start_pricing()
    bookshop = start_bookshop(postgres.dsn(), pricing.url)
    for book_id in (1, 2, 3):
        assert httpx.get(f"{bookshop.url}/books/{book_id}").status_code == 200
    assert httpx.get(f"{bookshop.url}/books").status_code == 200

    response = httpx.get(bookshop.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in BOOKSHOP_METRICS:
        assert re.search(rf"^{name}[{{ ]", text, re.MULTILINE), f"{name} missing from /metrics"
    endpoint = "/books/<book_id>"
    assert metric_value(text, "bookshop_requests_total", endpoint=endpoint, code="200") == 3
    assert metric_value(text, "bookshop_requests_total", endpoint="/books", code="200") == 1
    assert metric_value(text, "bookshop_request_latency_seconds_count", endpoint=endpoint) == 3
    assert (
        metric_value(text, "bookshop_request_latency_seconds_bucket", endpoint=endpoint, le="10.0")
        == 3
    )
    assert metric_value(text, "bookshop_pricing_latency_seconds_count") == 3
    assert metric_value(text, "bookshop_pricing_latency_seconds_bucket", le="0.5") == 3
    # the raw path never becomes a label value
    assert 'endpoint="/books/1"' not in text
    # failure series exist at 0 before the first failure
    for reason in ("timeout", "connect", "status"):
        assert f'bookshop_pricing_failures_total{{reason="{reason}"}} 0.0' in text
    for operation in ("list_books", "get_book", "create_order", "readyz"):
        assert f'bookshop_db_errors_total{{operation="{operation}"}} 0.0' in text


def test_json_log_lines_carry_timestamp_run_id_and_trace_id(
    tmp_path: Path,
    postgres: PostgresCluster,
    start_pricing: StartService,
    start_bookshop: StartService,
) -> None:
    pricing = start_pricing()
    bookshop = start_bookshop(postgres.dsn(), pricing.url)
    assert httpx.get(bookshop.url + "/books/1", headers=RUN).status_code == 200
    assert httpx.get(bookshop.url + "/books/2").status_code == 200
    unsafe = {"X-Chaoslab-Run": "not a run id; drop table"}
    assert httpx.get(bookshop.url + "/books/3", headers=unsafe).status_code == 200
    log_path = tmp_path / "bookshop.jsonl"

    assert wait_for(lambda: len(completed(read_log(log_path), "/books/3")) == 1, timeout=5)
    log = read_log(log_path)

    with_run = completed(log, "/books/1")
    assert len(with_run) == 1, log
    line = with_run[0]
    assert line["run_id"] == "abc"
    assert TRACE_ID.fullmatch(line["trace_id"]), line
    assert line["trace_id"] != "0" * 32
    assert line["level"] == "info"
    assert line["method"] == "GET"
    assert line["endpoint"] == "/books/<book_id>"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float | int)
    stamp = _parse_timestamp(line["timestamp"])
    assert stamp.utcoffset() == timedelta(0)

    without_run = completed(log, "/books/2")
    assert len(without_run) == 1
    assert without_run[0]["run_id"] is None
    assert TRACE_ID.fullmatch(without_run[0]["trace_id"])
    assert without_run[0]["trace_id"] != line["trace_id"]
    assert completed(log, "/books/3")[0]["run_id"] is None

    started = [r for r in log if r.get("event") == "bookshop.started"]
    assert len(started) == 1
    assert started[0]["port"] == bookshop.port

    bookshop.stop()
    assert bookshop.process.popen is not None
    assert bookshop.process.popen.returncode == 0
    assert any(r.get("event") == "bookshop.stopping" for r in read_log(log_path))


def _parse_timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_pricing_down_is_a_quick_502_counted_and_sent_to_sentry(
    tmp_path: Path,
    postgres: PostgresCluster,
    start_pricing: StartService,
    start_bookshop: StartService,
    sentry_sink: SentrySink,
) -> None:
    pricing = start_pricing()
    bookshop = start_bookshop(
        postgres.dsn(),
        pricing.url,
        BOOKSHOP_PRICING_TIMEOUT_S="1.0",
        SENTRY_DSN=sentry_sink.dsn,
        SENTRY_ENVIRONMENT="test",
    )
    assert httpx.get(bookshop.url + "/books/1").status_code == 200

    pricing.stop()
    started = time.monotonic()
    response = httpx.get(bookshop.url + "/books/1", headers=RUN, timeout=10)
    elapsed = time.monotonic() - started
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "PricingUnavailable"
    assert elapsed < 1.0, f"502 took {elapsed:.2f} s, more than the 1 s pricing timeout"

    order = httpx.post(bookshop.url + "/orders", json={"book_id": 1, "quantity": 1}, timeout=10)
    assert order.status_code == 502, order.text
    # the catalogue does not need pricing
    assert httpx.get(bookshop.url + "/books").status_code == 200
    ready = httpx.get(bookshop.url + "/readyz", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["checks"]["pricing"]["ok"] is False
    assert ready.json()["checks"]["database"]["ok"] is True
    assert httpx.get(bookshop.url + "/healthz").status_code == 200

    metrics = httpx.get(bookshop.url + "/metrics").text
    assert metric_value(metrics, "bookshop_pricing_failures_total", reason="connect") == 2
    assert metric_value(metrics, "bookshop_pricing_failures_total", reason="timeout") == 0
    assert metric_value(metrics, "bookshop_pricing_latency_seconds_count") == 3
    assert (
        metric_value(metrics, "bookshop_requests_total", endpoint="/books/<book_id>", code="502")
        == 1
    )

    events = sentry_sink.wait_for(2)
    assert len(events) == 2, events
    assert {last_exception_type(event) for event in events} == {"PricingUnavailable"}
    tagged = [e for e in events if e.get("tags", {}).get("run_id") == "abc"]
    assert len(tagged) == 1, [e.get("tags") for e in events]
    tags = tagged[0]["tags"]
    assert tags["pricing.reason"] == "connect"
    assert TRACE_ID.fullmatch(tags["trace_id"])
    assert tagged[0]["environment"] == "test"

    log = read_log(tmp_path / "bookshop.jsonl")
    warnings = [r for r in log if r.get("event") == "pricing.unavailable" and r["run_id"] == "abc"]
    assert len(warnings) == 1
    assert warnings[0]["reason"] == "connect"
    assert warnings[0]["trace_id"] == tags["trace_id"]


def test_slow_pricing_is_a_502_within_the_pricing_timeout(
    postgres: PostgresCluster, start_pricing: StartService, start_bookshop: StartService
) -> None:
    pricing = start_pricing(latency_ms=3000)
    bookshop = start_bookshop(postgres.dsn(), pricing.url, BOOKSHOP_PRICING_TIMEOUT_S="0.5")

    started = time.monotonic()
    response = httpx.get(bookshop.url + "/books/1", timeout=10)
    elapsed = time.monotonic() - started
    assert response.status_code == 502, response.text
    assert 0.4 < elapsed < 1.0, f"502 after {elapsed:.2f} s; the pricing timeout is 0.5 s"

    metrics = httpx.get(bookshop.url + "/metrics").text
    assert metric_value(metrics, "bookshop_pricing_failures_total", reason="timeout") == 1
    assert metric_value(metrics, "bookshop_pricing_failures_total", reason="connect") == 0
    # the failed lookup is timed too: it lands above the alert's 0.5 s bucket
    assert metric_value(metrics, "bookshop_pricing_latency_seconds_bucket", le="0.25") == 0
    assert metric_value(metrics, "bookshop_pricing_latency_seconds_count") == 1


def test_postgres_down_is_a_quick_503_counted_sent_to_sentry_and_recovers(
    own_postgres: PostgresCluster,
    start_pricing: StartService,
    start_bookshop: StartService,
    sentry_sink: SentrySink,
) -> None:
    pricing = start_pricing()
    bookshop = start_bookshop(
        own_postgres.dsn(),
        pricing.url,
        BOOKSHOP_DB_TIMEOUT_S="1.0",
        BOOKSHOP_POOL_SIZE="2",
        SENTRY_DSN=sentry_sink.dsn,
    )
    url = bookshop.url
    assert httpx.get(url + "/books").status_code == 200

    own_postgres.stop_server()
    calls = [
        ("GET", "/books", None, "list_books"),
        ("GET", "/books/1", None, "get_book"),
        ("POST", "/orders", {"book_id": 1, "quantity": 1}, "create_order"),
        ("GET", "/books/2", None, "get_book"),
    ]
    for method, path, payload, _operation in calls:
        started = time.monotonic()
        response = httpx.request(method, url + path, json=payload, headers=RUN, timeout=15)
        elapsed = time.monotonic() - started
        assert response.status_code == 503, (path, response.text)
        assert response.json()["error"] == "DatabaseUnavailable"
        # pool wait of 1 s, or an immediate failure on a dead connection
        assert elapsed < 2.5, f"{method} {path}: 503 after {elapsed:.2f} s"

    ready = httpx.get(url + "/readyz", timeout=15)
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["ok"] is False
    assert ready.json()["checks"]["database"]["error"]
    assert httpx.get(url + "/healthz").status_code == 200

    metrics = httpx.get(url + "/metrics").text
    assert metric_value(metrics, "bookshop_db_errors_total", operation="list_books") == 1
    assert metric_value(metrics, "bookshop_db_errors_total", operation="get_book") == 2
    assert metric_value(metrics, "bookshop_db_errors_total", operation="create_order") == 1
    assert metric_value(metrics, "bookshop_db_errors_total", operation="readyz") == 1
    assert metric_value(metrics, "bookshop_requests_total", endpoint="/books", code="503") == 1

    events = sentry_sink.wait_for(len(calls))
    assert len(events) == len(calls), [last_exception_type(e) for e in events]
    assert {last_exception_type(e) for e in events} == {"DatabaseUnavailable"}
    assert {e["tags"]["run_id"] for e in events} == {"abc"}
    assert {e["tags"]["db.operation"] for e in events} == {"list_books", "get_book", "create_order"}

    own_postgres.start_server()
    assert wait_for(lambda: _status(url + "/books") == 200, timeout=30), "no recovery"
    assert httpx.get(url + "/books/1").status_code == 200


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def test_spans_reach_the_trace_store_with_run_id_and_both_services(
    tmp_path: Path,
    postgres: PostgresCluster,
    start_pricing: StartService,
    start_bookshop: StartService,
) -> None:
    with TraceStoreProcess(tmp_path / "traces") as store:
        otlp = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": store.otlp_endpoint}
        pricing = start_pricing(**otlp)
        bookshop = start_bookshop(postgres.dsn(), pricing.url, **otlp)
        run = {"X-Chaoslab-Run": "trace-run-1"}
        assert httpx.get(bookshop.url + "/books/5", headers=run).status_code == 200

        params = {"service": "bookshop", "tags": json.dumps({"chaoslab.run_id": "trace-run-1"})}

        def traces() -> list[dict[str, Any]]:
            response = httpx.get(store.url + "/api/traces", params=params, timeout=5)
            response.raise_for_status()
            found: list[dict[str, Any]] = response.json()["data"]
            return found

        def complete() -> bool:
            found = traces()
            return bool(found) and len(found[0]["spans"]) >= 5

        assert wait_for(complete, timeout=15), traces()
        (trace,) = traces()
        services = {key: p["serviceName"] for key, p in trace["processes"].items()}
        spans = [(s["operationName"], services[s["processID"]], s) for s in trace["spans"]]
        names = {(name, service) for name, service, _ in spans}
        assert ("GET /books/<int:book_id>", "bookshop") in names, names
        assert ("pricing.lookup", "bookshop") in names, names
        assert ("GET /prices/<isbn>", "pricing") in names, names
        # the httpx client span and at least one psycopg span
        assert any(
            s == "bookshop" and n.startswith("GET") and n != "GET /books/<int:book_id>"
            for n, s in names
        ), names
        assert any(
            any(t["key"] == "db.system" or t["key"] == "db.system.name" for t in span["tags"])
            for _, _, span in spans
        ), names
        server = next(span for name, _, span in spans if name == "GET /books/<int:book_id>")
        tags = {t["key"]: t["value"] for t in server["tags"]}
        assert tags["chaoslab.run_id"] == "trace-run-1"

        # a failed lookup marks its span as an error
        pricing.stop()
        failing = {"X-Chaoslab-Run": "trace-run-2"}
        assert httpx.get(bookshop.url + "/books/6", headers=failing).status_code == 502
        params = {"service": "bookshop", "operation": "pricing.lookup", "tags": '{"error": "true"}'}
        assert wait_for(lambda: bool(traces()), timeout=15), "no failed pricing.lookup span"
