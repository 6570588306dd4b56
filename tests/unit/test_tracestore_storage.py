"""The SQLite span store: round trip, batching writer, retention, closing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

import pytest

from stack.tracestore.exceptions import StoreClosed, StoreOverloaded
from stack.tracestore.model import (
    Attribute,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
    StoredSpan,
)
from stack.tracestore.query import TraceQuery
from stack.tracestore.storage import DB_FILENAME, Retention, SpanStore


def make_span(n: int, trace: int | None = None, service: str = "svc") -> StoredSpan:
    return StoredSpan(
        trace_id=f"{trace if trace is not None else n:032x}",
        span_id=f"{n + 1:016x}",
        parent_span_id="",
        service=service,
        operation=f"op-{n % 3}",
        kind=SpanKind.INTERNAL,
        start_ns=1_000_000_000 * (n + 1),
        end_ns=1_000_000_000 * (n + 1) + 5_000,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SpanStore]:
    with SpanStore(tmp_path / DB_FILENAME) as opened:
        yield opened


def test_round_trip_keeps_every_field(store: SpanStore) -> None:
    span = StoredSpan(
        trace_id="ab" * 16,
        span_id="cd" * 8,
        parent_span_id="ef" * 8,
        service="checkout",
        operation="POST /orders",
        kind=SpanKind.CONSUMER,
        start_ns=1_700_000_000_123_456_789,
        end_ns=1_700_000_001_000_000_000,
        status_code=StatusCode.ERROR,
        status_message="boom",
        attributes=(
            Attribute("s", "string", "x"),
            Attribute("b", "bool", False),
            Attribute("i", "int64", -(2**62)),
            Attribute("f", "float64", 1.25),
            Attribute("bin", "binary", "AQI="),
        ),
        resource_attributes=(Attribute("service.name", "string", "checkout"),),
        events=(
            SpanEvent("exception", 1_700_000_000_200_000_000, (Attribute("k", "bool", True),)),
        ),
        links=(SpanLink("12" * 16, "34" * 8),),
        flags=1,
        scope_name="scope",
        scope_version="2",
    )

    assert store.write([span]) == 1

    assert store.traces([span.trace_id]) == {span.trace_id: [span]}
    assert store.count() == 1


def test_duplicate_spans_are_stored_once(store: SpanStore) -> None:
    store.write([make_span(1)])
    store.write([make_span(1), make_span(2)])

    assert store.count() == 2


def test_database_file_is_in_wal_mode(store: SpanStore) -> None:
    store.write([make_span(1)])
    with sqlite3.connect(store.db_path) as conn:
        (mode,) = conn.execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def test_concurrent_writers_lose_nothing(store: SpanStore) -> None:
    def writer(offset: int) -> None:
        for batch in range(20):
            store.write([make_span(offset + batch * 10 + i) for i in range(10)])

    threads = [threading.Thread(target=writer, args=(t * 1_000,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.count() == 8 * 20 * 10


async def test_async_writes_from_one_event_loop(store: SpanStore) -> None:
    written = await asyncio.gather(*(store.write_async([make_span(n)]) for n in range(200)))

    assert sum(written) == 200
    assert store.count() == 200


def test_find_traces_newest_first_with_limit(store: SpanStore) -> None:
    store.write([make_span(n, trace=n // 2) for n in range(10)])

    assert store.find_trace_ids(TraceQuery(service="svc", limit=3)) == [
        f"{4:032x}",
        f"{3:032x}",
        f"{2:032x}",
    ]
    assert store.find_trace_ids(TraceQuery(service="other")) == []


def test_tag_search_with_quotes_and_non_ascii(store: SpanStore) -> None:
    note = 'say "hé" \\ 100%_'
    tagged = replace(make_span(1), attributes=(Attribute("note", "string", note),))
    store.write([tagged, make_span(2)])

    assert store.find_trace_ids(TraceQuery(service="svc", tags=(("note", note),))) == [
        tagged.trace_id
    ]
    assert store.find_trace_ids(TraceQuery(service="svc", tags=(("note", "say"),))) == []


def test_operations_and_services(store: SpanStore) -> None:
    store.write([make_span(0), make_span(1), make_span(2, service="billing")])

    assert store.services() == ["billing", "svc"]
    assert store.operations("svc") == [("op-0", SpanKind.INTERNAL), ("op-1", SpanKind.INTERNAL)]
    assert store.operations("svc", SpanKind.SERVER) == []


def test_retention_keeps_the_newest_spans(tmp_path: Path) -> None:
    retention = Retention(max_spans=10, prune_every=1)
    with SpanStore(tmp_path / DB_FILENAME, retention) as store:
        for first in range(0, 30, 5):
            store.write([make_span(n) for n in range(first, first + 5)])

        assert store.count() == 10
        kept = store.find_trace_ids(TraceQuery(service="svc", limit=100))
    assert sorted(kept) == [f"{n:032x}" for n in range(20, 30)]


def test_retention_by_age_drops_spans_received_long_ago(tmp_path: Path) -> None:
    now = [1_000 * 10**9]
    retention = Retention(max_age_s=60, prune_every=1)
    with SpanStore(tmp_path / DB_FILENAME, retention, clock=lambda: now[0]) as store:
        store.write([make_span(1), make_span(2)])
        now[0] += 30 * 10**9
        store.write([make_span(3)])
        assert store.count() == 3

        now[0] += 45 * 10**9  # the first two are now 75 s old, the third 45 s
        store.write([make_span(4)])

        assert sorted(store.find_trace_ids(TraceQuery(service="svc"))) == [
            f"{3:032x}",
            f"{4:032x}",
        ]

        now[0] += 3_600 * 10**9
        store.write([make_span(5)])
        assert store.count() == 1


def test_full_queue_raises_overloaded(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    with SpanStore(path, max_pending=1) as store:
        store.write([make_span(0)])
        blocker = sqlite3.connect(path)
        blocker.execute("BEGIN IMMEDIATE")  # hold the write lock: the writer thread must wait
        accepted: list[Future[int]] = []

        def submit_three() -> None:
            # The writer takes at most one request and blocks; the queue holds one more.
            for n in range(1, 4):
                accepted.append(store.submit([make_span(n)]))

        try:
            with pytest.raises(StoreOverloaded, match="waiting to be written"):
                submit_three()
        finally:
            blocker.rollback()
            blocker.close()
        assert [future.result(timeout=30) for future in accepted] == [1] * len(accepted)
        assert store.count() == 1 + len(accepted)


def test_closed_store_refuses_writes_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / DB_FILENAME
    store = SpanStore(path)
    with pytest.raises(StoreClosed):
        store.submit([make_span(0)])
    store.open()
    pending = store.submit([make_span(1)])
    store.close()
    store.close()

    assert pending.result(timeout=0) == 1
    assert not store.running
    with pytest.raises(StoreClosed):
        store.submit([make_span(2)])
    with pytest.raises(StoreClosed):
        store.open()
    with SpanStore(path) as reopened:
        assert reopened.count() == 1
