"""Jaeger query API JSON: the response models and the span → Jaeger view.

The shapes follow Jaeger's ``model/json`` and ``structuredResponse`` (the JSON
the Jaeger UI reads), and OTLP fields are turned into tags the way Jaeger's
OTLP translator does: span kind as ``span.kind``, status as
``otel.status_code`` / ``otel.status_description`` plus ``error=true`` for
errors, the instrumentation scope as ``otel.scope.name`` / ``otel.scope.version``,
events as logs whose first field is ``event`` = the event name, resource
attributes (minus ``service.name``) as process tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, SerializerFunctionWrapHandler, model_serializer

from stack.tracestore.model import Attribute, SpanEvent, SpanKind, StatusCode, StoredSpan

T = TypeVar("T")

SERVICE_NAME_KEY = "service.name"
NANOS_PER_MICRO = 1_000


class JaegerKeyValue(BaseModel):
    """A tag or log field: ``{"key", "type", "value"}``."""

    key: str
    type: str
    value: str | bool | int | float


class JaegerReference(BaseModel):
    refType: Literal["CHILD_OF", "FOLLOWS_FROM"]
    traceID: str
    spanID: str


class JaegerLog(BaseModel):
    timestamp: int
    fields: list[JaegerKeyValue]


class JaegerSpan(BaseModel):
    traceID: str
    spanID: str
    flags: int
    operationName: str
    references: list[JaegerReference]
    startTime: int
    duration: int
    tags: list[JaegerKeyValue]
    logs: list[JaegerLog]
    processID: str
    warnings: list[str] | None = None


class JaegerProcess(BaseModel):
    serviceName: str
    tags: list[JaegerKeyValue]


class JaegerTrace(BaseModel):
    traceID: str
    spans: list[JaegerSpan]
    processes: dict[str, JaegerProcess]
    warnings: list[str] | None = None


class JaegerOperation(BaseModel):
    """An item of ``GET /api/operations``."""

    name: str
    spanKind: str


class JaegerError(BaseModel):
    """An item of ``errors``; like Jaeger, ``code`` and ``traceID`` are left out when unset."""

    code: int | None = None
    msg: str
    traceID: str | None = None

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        dumped: dict[str, object] = handler(self)
        return {key: value for key, value in dumped.items() if value is not None}


class JaegerResponse(BaseModel, Generic[T]):
    """Jaeger's ``structuredResponse`` envelope."""

    data: T | None
    total: int = 0
    limit: int = 0
    offset: int = 0
    errors: list[JaegerError] | None = None


def span_tags(span: StoredSpan) -> list[Attribute]:
    """Every tag Jaeger shows on ``span``: its attributes, then the translated OTLP fields."""
    tags = list(span.attributes)
    if span.scope_name:
        tags.append(Attribute("otel.scope.name", "string", span.scope_name))
    if span.scope_version:
        tags.append(Attribute("otel.scope.version", "string", span.scope_version))
    if span.kind is not SpanKind.UNSPECIFIED:
        tags.append(Attribute("span.kind", "string", span.kind.jaeger_name))
    if span.status_code is not StatusCode.UNSET:
        tags.append(Attribute("otel.status_code", "string", span.status_code.name))
    if span.status_code is StatusCode.ERROR:
        tags.append(Attribute("error", "bool", True))
    if span.status_message:
        tags.append(Attribute("otel.status_description", "string", span.status_message))
    return tags


def process_tags(span: StoredSpan) -> list[Attribute]:
    """The resource attributes Jaeger shows as process tags (all but ``service.name``)."""
    return [attr for attr in span.resource_attributes if attr.key != SERVICE_NAME_KEY]


def log_fields(event: SpanEvent) -> list[Attribute]:
    """The fields of the Jaeger log an event becomes."""
    return [Attribute("event", "string", event.name), *event.attributes]


def _key_values(attributes: Iterable[Attribute]) -> list[JaegerKeyValue]:
    return [JaegerKeyValue(key=a.key, type=a.type, value=a.value) for a in attributes]


def _references(span: StoredSpan) -> list[JaegerReference]:
    refs = []
    if span.parent_span_id:
        refs.append(
            JaegerReference(refType="CHILD_OF", traceID=span.trace_id, spanID=span.parent_span_id)
        )
    refs.extend(
        JaegerReference(refType="FOLLOWS_FROM", traceID=link.trace_id, spanID=link.span_id)
        for link in span.links
    )
    return refs


def to_jaeger_span(span: StoredSpan, process_id: str) -> JaegerSpan:
    return JaegerSpan(
        traceID=span.trace_id,
        spanID=span.span_id,
        flags=span.flags,
        operationName=span.operation,
        references=_references(span),
        startTime=span.start_ns // NANOS_PER_MICRO,
        duration=span.duration_ns // NANOS_PER_MICRO,
        tags=_key_values(span_tags(span)),
        logs=[
            JaegerLog(
                timestamp=event.time_ns // NANOS_PER_MICRO, fields=_key_values(log_fields(event))
            )
            for event in span.events
        ],
        processID=process_id,
    )


def to_jaeger_trace(trace_id: str, spans: Sequence[StoredSpan]) -> JaegerTrace:
    """One trace in Jaeger's JSON; spans ordered by start time, one process per resource."""
    processes: dict[tuple[str, tuple[Attribute, ...]], str] = {}
    jaeger_processes: dict[str, JaegerProcess] = {}
    jaeger_spans: list[JaegerSpan] = []
    for span in sorted(spans, key=lambda s: (s.start_ns, s.span_id)):
        identity = (span.service, span.resource_attributes)
        process_id = processes.get(identity)
        if process_id is None:
            process_id = f"p{len(processes) + 1}"
            processes[identity] = process_id
            jaeger_processes[process_id] = JaegerProcess(
                serviceName=span.service, tags=_key_values(process_tags(span))
            )
        jaeger_spans.append(to_jaeger_span(span, process_id))
    return JaegerTrace(traceID=trace_id, spans=jaeger_spans, processes=jaeger_processes)


__all__ = [
    "JaegerError",
    "JaegerKeyValue",
    "JaegerLog",
    "JaegerOperation",
    "JaegerProcess",
    "JaegerReference",
    "JaegerResponse",
    "JaegerSpan",
    "JaegerTrace",
    "log_fields",
    "process_tags",
    "span_tags",
    "to_jaeger_span",
    "to_jaeger_trace",
]
