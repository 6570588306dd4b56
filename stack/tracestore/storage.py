"""Spans in SQLite: a single batching writer thread, short-lived readers.

The database is one file in WAL mode, so readers never wait for the writer.
Every write goes through one thread that owns the write connection: export
requests queue their spans, and the thread drains whatever has queued up into
a single transaction (group commit), so the more load, the bigger the
batches. :meth:`SpanStore.submit` returns a future that completes once the
spans are committed, which gives read-your-writes to an exporter's
``force_flush``. When more than ``max_pending`` requests are waiting,
:class:`StoreOverloaded` is raised (the receiver answers 503, which OTLP
exporters retry).

Retention: after every ``prune_every`` written spans the writer deletes the
oldest rows so that at most ``max_spans`` remain (default 500,000, roughly
0.5 GB at ~1 KB a span), and, when ``max_age_s`` is set, every span received
longer ago than that. Pruning works span by span, in arrival order, so the
oldest surviving trace may have lost its earliest spans. Freed pages are
reused; the file is never shrunk (no VACUUM).

Spans are unique by (trace ID, span ID): a retried export is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from stack.tracestore.exceptions import StoreClosed, StoreOverloaded
from stack.tracestore.model import SpanKind, StoredSpan
from stack.tracestore.query import TraceQuery
from stack.tracestore.schema import (
    COLUMNS,
    IN_CHUNK,
    INSERT,
    SCHEMA,
    from_row,
    tag_prefilter,
    to_row,
)

DB_FILENAME = "traces.sqlite3"


@dataclass(frozen=True, slots=True)
class Retention:
    """How much the store keeps; see the module docstring."""

    max_spans: int = 500_000
    max_age_s: float | None = None
    prune_every: int = 2_000


@dataclass(slots=True)
class _Pending:
    spans: Sequence[StoredSpan]
    future: Future[int] = field(default_factory=Future)


class SpanStore:
    """Spans in one SQLite file; thread-safe, usable from async code via :meth:`write_async`."""

    def __init__(
        self,
        db_path: Path,
        retention: Retention | None = None,
        *,
        max_pending: int = 10_000,
        max_batch_spans: int = 20_000,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.db_path = Path(db_path)
        self.retention = retention or Retention()
        self._max_batch_spans = max_batch_spans
        self._clock = clock  # unix nanoseconds; received_ns and max_age_s use it
        self._queue: queue.Queue[_Pending | None] = queue.Queue(maxsize=max_pending)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._since_prune = 0

    # -- lifecycle -------------------------------------------------------------------------

    def open(self) -> None:
        """Create the schema if needed and start the writer thread."""
        with self._lock:
            if self._closed:
                raise StoreClosed(f"span store {self.db_path} is closed")
            if self._thread is not None:
                return
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.db_path, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(SCHEMA)
            self._thread = threading.Thread(
                target=self._run, args=(conn,), name="tracestore-writer", daemon=True
            )
            self._thread.start()

    def close(self) -> None:
        """Write what is queued, stop the writer thread; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()

    @property
    def running(self) -> bool:
        """True while the store is open and its writer thread alive."""
        return not self._closed and self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> SpanStore:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------

    def submit(self, spans: Sequence[StoredSpan]) -> Future[int]:
        """Queue spans for the writer; the future resolves to how many were given once committed."""
        pending = _Pending(spans)
        if not spans:
            pending.future.set_result(0)
            return pending.future
        with self._lock:
            if self._closed or self._thread is None:
                raise StoreClosed(f"span store {self.db_path} is not open")
            try:
                self._queue.put_nowait(pending)
            except queue.Full as exc:
                raise StoreOverloaded(
                    f"{self._queue.maxsize} export requests are waiting to be written"
                ) from exc
        return pending.future

    def write(self, spans: Sequence[StoredSpan], timeout: float | None = None) -> int:
        """Write spans and wait until they are committed."""
        return self.submit(spans).result(timeout)

    async def write_async(self, spans: Sequence[StoredSpan]) -> int:
        """Write spans and wait (without blocking the event loop) until they are committed."""
        return await asyncio.wrap_future(self.submit(spans))

    def _run(self, conn: sqlite3.Connection) -> None:
        try:
            stopping = False
            while not stopping:
                item = self._queue.get()
                if item is None:
                    break
                batch = [item]
                count = len(item.spans)
                while count < self._max_batch_spans:
                    try:
                        extra = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if extra is None:
                        stopping = True
                        break
                    batch.append(extra)
                    count += len(extra.spans)
                self._write_batch(conn, batch)
        finally:
            conn.close()

    def _write_batch(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        live = [p for p in batch if p.future.set_running_or_notify_cancel()]
        received_ns = self._clock()
        written = sum(len(p.spans) for p in batch)
        prune = self._since_prune + written >= self.retention.prune_every
        try:
            # One transaction: the batch and the pruning it triggers commit together, so an
            # acknowledged write never leaves more than max_spans rows behind.
            with conn:
                conn.executemany(
                    INSERT, (to_row(span, received_ns) for p in batch for span in p.spans)
                )
                if prune:
                    self._prune(conn)
        except sqlite3.Error as exc:
            for pending in live:
                pending.future.set_exception(exc)
            return
        self._since_prune = 0 if prune else self._since_prune + written
        for pending in live:
            pending.future.set_result(len(pending.spans))

    def _prune(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "DELETE FROM spans WHERE id <= (SELECT MAX(id) FROM spans) - ?",
            (self.retention.max_spans,),
        )
        if self.retention.max_age_s is not None:
            cutoff = self._clock() - int(self.retention.max_age_s * 1e9)
            # Rows arrive in id order, so the first young row splits old from young.
            conn.execute(
                "DELETE FROM spans WHERE id < COALESCE("
                " (SELECT id FROM spans WHERE received_ns >= ? ORDER BY id LIMIT 1),"
                " (SELECT MAX(id) + 1 FROM spans))",
                (cutoff,),
            )

    # -- reading ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.db_path, timeout=5.0)
        try:
            conn.execute("PRAGMA query_only=ON")
            yield conn
        finally:
            conn.close()

    def count(self) -> int:
        """How many spans are stored."""
        with self._reader() as conn:
            (total,) = conn.execute("SELECT COUNT(*) FROM spans").fetchone()
            return int(total)

    def services(self) -> list[str]:
        """Every service name, sorted."""
        with self._reader() as conn:
            rows = conn.execute("SELECT DISTINCT service FROM spans ORDER BY service").fetchall()
        return [str(service) for (service,) in rows]

    def operations(self, service: str, kind: SpanKind | None = None) -> list[tuple[str, SpanKind]]:
        """(operation, span kind) pairs of ``service``, sorted; only ``kind`` when given."""
        sql = "SELECT DISTINCT operation, kind FROM spans WHERE service = ?"
        args: list[object] = [service]
        if kind is not None:
            sql += " AND kind = ?"
            args.append(int(kind))
        with self._reader() as conn:
            rows = conn.execute(sql + " ORDER BY operation, kind", args).fetchall()
        return [(str(name), SpanKind(kind_value)) for name, kind_value in rows]

    def find_trace_ids(self, query: TraceQuery) -> list[str]:
        """IDs of the traces with a span matching ``query``, newest matching span first."""
        if query.trace_ids:
            return list(dict.fromkeys(query.trace_ids))
        where = ["service = ?"]
        args: list[object] = [query.service]
        for clause, value in (
            ("operation = ?", query.operation or None),
            ("start_ns >= ?", query.start_min_ns),
            ("start_ns <= ?", query.start_max_ns),
            ("duration_ns >= ?", query.min_duration_ns),
            ("duration_ns <= ?", query.max_duration_ns),
        ):
            if value is not None:
                where.append(clause)
                args.append(value)
        for key, value in query.tags:
            prefilter = tag_prefilter(key, value)
            if prefilter is not None:
                where.append(prefilter[0])
                args.extend(prefilter[1])
        condition = " AND ".join(where)
        with self._reader() as conn:
            if not query.tags:
                rows = conn.execute(
                    f"SELECT trace_id, MAX(start_ns) AS latest FROM spans WHERE {condition} "  # noqa: S608 - only fixed clauses are interpolated, values are bound
                    "GROUP BY trace_id ORDER BY latest DESC LIMIT ?",
                    [*args, query.limit],
                ).fetchall()
                return [str(trace_id) for trace_id, _ in rows]
            found: dict[str, None] = {}
            cursor = conn.execute(
                f"SELECT {COLUMNS} FROM spans WHERE {condition} ORDER BY start_ns DESC",  # noqa: S608 - only fixed clauses are interpolated, values are bound
                args,
            )
            for row in cursor:
                if row[0] in found or not query.matches_tags(from_row(row)):
                    continue
                found[row[0]] = None
                if len(found) >= query.limit:
                    break
            return list(found)

    def traces(self, trace_ids: Sequence[str]) -> dict[str, list[StoredSpan]]:
        """The spans of each trace found, in the order of ``trace_ids``, by start time."""
        spans: dict[str, list[StoredSpan]] = {trace_id: [] for trace_id in trace_ids}
        ids = list(spans)
        with self._reader() as conn:
            for first in range(0, len(ids), IN_CHUNK):
                chunk = ids[first : first + IN_CHUNK]
                marks = ", ".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT {COLUMNS} FROM spans WHERE trace_id IN ({marks}) "  # noqa: S608 - only placeholders are interpolated
                    "ORDER BY start_ns, span_id",
                    chunk,
                )
                for row in rows:
                    spans[row[0]].append(from_row(row))
        return {trace_id: found for trace_id, found in spans.items() if found}


__all__ = ["DB_FILENAME", "Retention", "SpanStore"]
