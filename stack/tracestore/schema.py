"""The SQLite table of spans and how a :class:`StoredSpan` maps onto one row.

Attributes, resource attributes, events and links are JSON text columns;
attributes are ``[key, type, value]`` triples so their Jaeger value type
survives. ``received_ns`` (when the writer stored the row) drives age-based
retention; ``id`` is the arrival order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import cast

from stack.tracestore.model import (
    Attribute,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
    StoredSpan,
    ValueType,
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    id INTEGER PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT NOT NULL,
    service TEXT NOT NULL,
    operation TEXT NOT NULL,
    kind INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    status_code INTEGER NOT NULL,
    status_message TEXT NOT NULL,
    flags INTEGER NOT NULL,
    scope_name TEXT NOT NULL,
    scope_version TEXT NOT NULL,
    attributes TEXT NOT NULL,
    resource_attributes TEXT NOT NULL,
    events TEXT NOT NULL,
    links TEXT NOT NULL,
    received_ns INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS spans_trace_span ON spans (trace_id, span_id);
CREATE INDEX IF NOT EXISTS spans_service_start ON spans (service, start_ns);
CREATE INDEX IF NOT EXISTS spans_service_operation_start ON spans (service, operation, start_ns);
"""

COLUMNS = (
    "trace_id, span_id, parent_span_id, service, operation, kind, start_ns, end_ns, "
    "duration_ns, status_code, status_message, flags, scope_name, scope_version, "
    "attributes, resource_attributes, events, links"
)
INSERT = (
    f"INSERT OR IGNORE INTO spans ({COLUMNS}, received_ns) "  # noqa: S608 - a fixed column list
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
IN_CHUNK = 500  # SQLite's default limit on bound parameters is far above this

Row = tuple[
    str, str, str, str, str, int, int, int, int, int, str, int, str, str, str, str, str, str
]


def _dump_attributes(attributes: Sequence[Attribute]) -> list[list[object]]:
    return [[a.key, a.type, a.value] for a in attributes]


def _load_attributes(raw: list[list[object]]) -> tuple[Attribute, ...]:
    return tuple(
        Attribute(str(key), cast(ValueType, kind), cast(str | bool | int | float, value))
        for key, kind, value in raw
    )


def to_row(span: StoredSpan, received_ns: int) -> tuple[object, ...]:
    events = [
        {"name": e.name, "time_ns": e.time_ns, "attributes": _dump_attributes(e.attributes)}
        for e in span.events
    ]
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.service,
        span.operation,
        int(span.kind),
        span.start_ns,
        span.end_ns,
        span.duration_ns,
        int(span.status_code),
        span.status_message,
        span.flags,
        span.scope_name,
        span.scope_version,
        json.dumps(_dump_attributes(span.attributes)),
        json.dumps(_dump_attributes(span.resource_attributes)),
        json.dumps(events),
        json.dumps([[link.trace_id, link.span_id] for link in span.links]),
        received_ns,
    )


def from_row(row: Row) -> StoredSpan:
    (trace_id, span_id, parent, service, operation, kind, start_ns, end_ns, _duration,
     status_code, status_message, flags, scope_name, scope_version,
     attributes, resource_attributes, events, links) = row  # fmt: skip
    return StoredSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        service=service,
        operation=operation,
        kind=SpanKind(kind),
        start_ns=start_ns,
        end_ns=end_ns,
        status_code=StatusCode(status_code),
        status_message=status_message,
        flags=flags,
        scope_name=scope_name,
        scope_version=scope_version,
        attributes=_load_attributes(json.loads(attributes)),
        resource_attributes=_load_attributes(json.loads(resource_attributes)),
        events=tuple(
            SpanEvent(str(e["name"]), int(e["time_ns"]), _load_attributes(e["attributes"]))
            for e in json.loads(events)
        ),
        links=tuple(SpanLink(str(t), str(s)) for t, s in json.loads(links)),
    )


# Tags Jaeger derives from columns rather than attributes (see jaeger.span_tags/log_fields).
_DERIVED_TAGS = frozenset(
    {
        "span.kind",
        "otel.status_code",
        "otel.status_description",
        "otel.scope.name",
        "otel.scope.version",
        "event",
    }
)
_RAW_TEXT = "(attributes || resource_attributes || events)"
_HAS_NEEDLE = f"instr({_RAW_TEXT}, ?) > 0"
# Texts that may be a float64 tag's (Go's 'g' format) or a binary tag's (hex) as_string,
# which the stored JSON (the float's repr, the bytes in base64) need not contain.
_FLOAT_TEXT = re.compile(r"-?\d+(\.\d+)?(e[+-]\d+)?")
_HEX_TEXT = re.compile(r"([0-9a-f]{2})*")


def tag_prefilter(key: str, value: str) -> tuple[str, list[str]] | None:
    """A cheap SQL condition every span with tag ``key`` = ``value`` satisfies, if any.

    An attribute is stored as the JSON ``["key", "type", value]``, so the key's JSON
    occurs in the raw JSON columns, and so does ``value`` unless the tag is a float64
    or binary one, whose as_string is not its stored JSON: when ``value`` could be such
    a text, a span holding an attribute of that type is a candidate too. Python then
    checks the candidates exactly (TraceQuery.matches_tags).
    """
    if key in _DERIVED_TAGS:
        return None
    texts = [json.dumps(value)[1:-1]]
    if _FLOAT_TEXT.fullmatch(value):
        texts.append(json.dumps("float64"))
    if _HEX_TEXT.fullmatch(value):
        texts.append(json.dumps("binary"))
    any_text = " OR ".join([_HAS_NEEDLE] * len(texts))
    sql = f"{_HAS_NEEDLE} AND ({any_text})"
    needles = [json.dumps(key), *texts]
    if key == "error" and value == "true":
        return f"(status_code = {int(StatusCode.ERROR)} OR ({sql}))", needles
    return sql, needles


__all__ = ["COLUMNS", "INSERT", "IN_CHUNK", "SCHEMA", "Row", "from_row", "tag_prefilter", "to_row"]
