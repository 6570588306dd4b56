"""The embedded trace store: OTLP/HTTP in, SQLite inside, Jaeger query API out.

No Jaeger binary can be installed on the build machines, so the local stack
runs this instead; the lab's trace client speaks the Jaeger query API and
works unchanged against real Jaeger in the compose stack.

* ``POST /v1/traces`` — OTLP/HTTP, protobuf or JSON, optionally gzip.
* ``GET /api/services``, ``/api/services/{service}/operations``,
  ``/api/operations?service=``, ``/api/traces?service=&operation=&tags=&minDuration=
  &maxDuration=&start=&end=&limit=&lookback=``, ``/api/traces/{traceID}`` — Jaeger JSON.
* ``GET /healthz``.

Run it with ``python -m stack.tracestore --port N --db PATH``, as a child
process with :class:`TraceStoreProcess`, or in-process with
:class:`TraceStoreServer`. Retention is described in :mod:`stack.tracestore.storage`.
"""

from stack.tracestore.app import create_app
from stack.tracestore.exceptions import (
    InvalidQuery,
    OtlpDecodeError,
    StoreClosed,
    StoreOverloaded,
    TraceStoreError,
    UnsupportedMediaType,
)
from stack.tracestore.model import (
    Attribute,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
    StoredSpan,
)
from stack.tracestore.otlp import DecodedExport, Encoding, decode_export
from stack.tracestore.process import TraceStoreProcess
from stack.tracestore.query import TraceQuery, parse_duration_ns, parse_trace_query
from stack.tracestore.server import TraceStoreServer
from stack.tracestore.storage import DB_FILENAME, Retention, SpanStore

__all__ = [
    "DB_FILENAME",
    "Attribute",
    "DecodedExport",
    "Encoding",
    "InvalidQuery",
    "OtlpDecodeError",
    "Retention",
    "SpanEvent",
    "SpanKind",
    "SpanLink",
    "SpanStore",
    "StatusCode",
    "StoreClosed",
    "StoreOverloaded",
    "StoredSpan",
    "TraceQuery",
    "TraceStoreError",
    "TraceStoreProcess",
    "TraceStoreServer",
    "UnsupportedMediaType",
    "create_app",
    "decode_export",
    "parse_duration_ns",
    "parse_trace_query",
]
