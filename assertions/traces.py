"""Traces through the Jaeger query API (the lab's embedded trace store, or real Jaeger).

Usage::

    with JaegerClient("http://127.0.0.1:16686") as jaeger:
        traces = jaeger.find_traces(
            "target", tags={"chaoslab.run_id": run_id, "error": True},
            start=fault_started, min_duration=timedelta(seconds=1),
        )
        for trace in traces:
            root = trace.root

Endpoints: ``GET /api/services``, ``/api/services/{service}/operations``,
``/api/traces?service=&operation=&tags=<JSON object>&start=&end=<unix µs>
&minDuration=&maxDuration=<Go duration>&limit=``, ``/api/traces/{id}``.
Jaeger answers ``{"data": ..., "errors": [{"code", "msg"}]}``; a 400 becomes
:class:`~assertions.exceptions.QueryError` carrying the search, a 404 for one
trace id is ``None``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from assertions.exceptions import QueryError
from assertions.spans import (
    Attributes,
    AttributeValue,
    Span,
    SpanLog,
    SpanReference,
    Trace,
    attribute_text,
    to_micros,
)
from assertions.transport import HttpBackend, excerpt

D = TypeVar("D")

DEFAULT_LIMIT = 20


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class JaegerKeyValue(_Wire):
    key: str
    type: str = "string"
    value: str | bool | int | float

    def typed(self) -> AttributeValue:
        """The value as its declared Jaeger type (``bool``, ``int64``, ``float64``...)."""
        value = self.value
        if self.type == "bool":
            return value.lower() == "true" if isinstance(value, str) else bool(value)
        if self.type == "int64":
            return int(value)
        if self.type == "float64":
            return float(value)
        return value if isinstance(value, str) else attribute_text(value)


class JaegerReference(_Wire):
    ref_type: Literal["CHILD_OF", "FOLLOWS_FROM"] = Field(alias="refType")
    trace_id: str = Field(alias="traceID")
    span_id: str = Field(alias="spanID")


class JaegerLog(_Wire):
    timestamp: int
    fields: list[JaegerKeyValue] = Field(default_factory=list)


class JaegerSpan(_Wire):
    trace_id: str = Field(alias="traceID")
    span_id: str = Field(alias="spanID")
    operation_name: str = Field(alias="operationName")
    references: list[JaegerReference] | None = None
    start_time: int = Field(alias="startTime")
    duration: int
    tags: list[JaegerKeyValue] | None = None
    logs: list[JaegerLog] | None = None
    process_id: str = Field(default="", alias="processID")
    warnings: list[str] | None = None


class JaegerProcess(_Wire):
    service_name: str = Field(alias="serviceName")
    tags: list[JaegerKeyValue] | None = None


class JaegerTrace(_Wire):
    trace_id: str = Field(alias="traceID")
    spans: list[JaegerSpan]
    processes: dict[str, JaegerProcess] = Field(default_factory=dict)
    warnings: list[str] | None = None


class JaegerError(_Wire):
    code: int | None = None
    msg: str = ""
    trace_id: str | None = Field(default=None, alias="traceID")


class JaegerResponse(_Wire, Generic[D]):
    data: D | None = None
    errors: list[JaegerError] | None = None


def _attributes(values: list[JaegerKeyValue] | None) -> Attributes:
    return {kv.key: kv.typed() for kv in values or []}


def to_trace(raw: JaegerTrace) -> Trace:
    """A Jaeger trace as a :class:`~assertions.spans.Trace` (service names from processes)."""
    processes = {pid: (p.service_name, _attributes(p.tags)) for pid, p in raw.processes.items()}
    spans = []
    for span in raw.spans:
        service, process_tags = processes.get(span.process_id, ("", {}))
        spans.append(
            Span(
                trace_id=span.trace_id,
                span_id=span.span_id,
                operation=span.operation_name,
                service=service,
                start_us=span.start_time,
                duration_us=span.duration,
                tags=_attributes(span.tags),
                process_tags=process_tags,
                references=[
                    SpanReference(ref_type=r.ref_type, trace_id=r.trace_id, span_id=r.span_id)
                    for r in span.references or []
                ],
                logs=[
                    SpanLog(timestamp_us=log.timestamp, fields=_attributes(log.fields))
                    for log in span.logs or []
                ],
            )
        )
    spans.sort(key=lambda s: (s.start_us, s.span_id))
    return Trace(trace_id=raw.trace_id, spans=spans, warnings=raw.warnings or [])


def go_duration(value: float | timedelta) -> str:
    """Seconds (or a timedelta) as a Go duration in whole microseconds: ``1500000us``."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return f"{round(seconds * 1_000_000)}us"


_TRACES = TypeAdapter(JaegerResponse[list[JaegerTrace]])
_NAMES = TypeAdapter(JaegerResponse[list[str]])
_ERRORS = TypeAdapter(JaegerResponse[None])


class JaegerClient(HttpBackend):
    """Search and fetch traces; every trace comes back as a :class:`Trace`."""

    backend = "jaeger"

    def services(self) -> list[str]:
        """``GET /api/services``."""
        return self._data(self._get("/api/services"), "services", _NAMES) or []

    def operations(self, service: str) -> list[str]:
        """``GET /api/services/{service}/operations``: the span names of ``service``."""
        response = self._get(f"/api/services/{service}/operations")
        return self._data(response, f"operations of {service}", _NAMES) or []

    def find_traces(
        self,
        service: str,
        *,
        operation: str | None = None,
        tags: Mapping[str, AttributeValue] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        min_duration: float | timedelta | None = None,
        max_duration: float | timedelta | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[Trace]:
        """``GET /api/traces``: traces with at least one span matching every condition.

        ``tags`` are compared as text (``True`` → ``"true"``); ``start``/``end``
        bound span start times; durations are seconds or timedeltas.
        """
        params = {"service": service, "limit": str(limit)}
        if operation is not None:
            params["operation"] = operation
        if tags:
            params["tags"] = json.dumps({k: attribute_text(v) for k, v in tags.items()})
        if start is not None:
            params["start"] = str(to_micros(start))
        if end is not None:
            params["end"] = str(to_micros(end))
        if min_duration is not None:
            params["minDuration"] = go_duration(min_duration)
        if max_duration is not None:
            params["maxDuration"] = go_duration(max_duration)
        response = self._get("/api/traces", params)
        query = "GET /api/traces?" + str(httpx.QueryParams(params))
        return [to_trace(raw) for raw in self._data(response, query, _TRACES) or []]

    def trace(self, trace_id: str) -> Trace | None:
        """``GET /api/traces/{id}``; None when the backend does not have it (yet)."""
        response = self._get(f"/api/traces/{trace_id}")
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        found = self._data(response, f"trace {trace_id}", _TRACES) or []
        return to_trace(found[0]) if found else None

    def _data(
        self, response: httpx.Response, query: str, adapter: TypeAdapter[JaegerResponse[D]]
    ) -> D | None:
        if response.status_code == httpx.codes.BAD_REQUEST:
            try:
                errors = _ERRORS.validate_json(response.content).errors or []
            except ValidationError:
                raise self._unexpected(response, excerpt(response)) from None
            message = "; ".join(e.msg for e in errors) or excerpt(response)
            raise QueryError(self.backend, query, "bad_request", message)
        return self._decode(self._require_ok(response), adapter).data


__all__ = [
    "DEFAULT_LIMIT",
    "JaegerClient",
    "JaegerKeyValue",
    "JaegerLog",
    "JaegerProcess",
    "JaegerReference",
    "JaegerResponse",
    "JaegerSpan",
    "JaegerTrace",
    "go_duration",
    "to_trace",
]
