"""Errors raised by the embedded trace store.

Tree (under :class:`stack.exceptions.StackError`)::

    TraceStoreError               root of everything the trace store raises
    ├── OtlpDecodeError           an OTLP/HTTP request body cannot be decoded (HTTP 400)
    ├── UnsupportedMediaType      an OTLP/HTTP request has a content type we do not speak (415)
    ├── InvalidQuery              a Jaeger query parameter is malformed (HTTP 400)
    ├── StoreOverloaded           the write queue is full; the client should retry (HTTP 503)
    └── StoreClosed               the store was used after it was closed
"""

from __future__ import annotations

from stack.exceptions import StackError


class TraceStoreError(StackError):
    """Root of every error raised by :mod:`stack.tracestore`."""


class OtlpDecodeError(TraceStoreError):
    """The body of an OTLP/HTTP export request is not a valid ExportTraceServiceRequest."""


class UnsupportedMediaType(TraceStoreError):
    """The OTLP/HTTP request's Content-Type is neither protobuf nor JSON."""


class InvalidQuery(TraceStoreError):
    """A Jaeger query API parameter cannot be parsed."""


class StoreOverloaded(TraceStoreError):
    """Too many export requests are waiting to be written."""


class StoreClosed(TraceStoreError):
    """The span store was used after :meth:`SpanStore.close`."""
