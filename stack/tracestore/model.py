"""The trace store's domain data: spans as stored, independent of wire formats.

OTLP requests are decoded into :class:`StoredSpan` values, written to SQLite,
read back as :class:`StoredSpan` and rendered as Jaeger JSON. Attribute values
keep their Jaeger value type (``string``, ``bool``, ``int64``, ``float64``,
``binary``, whose value is kept in base64); OTLP arrays and maps become
strings of their JSON, as Jaeger's OTLP translator does.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass
from typing import Literal

from stack.tracestore.gotext import float_text

ValueType = Literal["string", "bool", "int64", "float64", "binary"]
AttributeValue = str | bool | int | float

UNKNOWN_SERVICE = "unknown_service"


class SpanKind(enum.IntEnum):
    """OTLP ``Span.SpanKind``."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5

    @property
    def jaeger_name(self) -> str:
        """The ``span.kind`` tag value Jaeger shows ("" when unspecified)."""
        return "" if self is SpanKind.UNSPECIFIED else self.name.lower()


class StatusCode(enum.IntEnum):
    """OTLP ``Status.StatusCode``."""

    UNSET = 0
    OK = 1
    ERROR = 2


@dataclass(frozen=True, slots=True)
class Attribute:
    """One typed key/value pair (a span attribute, resource attribute or event field)."""

    key: str
    type: ValueType
    value: AttributeValue

    def as_string(self) -> str:
        """The value as Jaeger's tag search compares it with a ``tags`` query value.

        That is jaeger-idl's ``KeyValue.AsString``: ``true``/``false``, integers in
        decimal, a float64 as ``strconv.FormatFloat(v, 'g', 10, 64)`` (``1.23456789e+11``)
        and binary as lowercase hex, although the JSON answer shows the float as a
        number and the bytes in base64.
        """
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if self.type == "float64" and isinstance(self.value, int | float):
            return float_text(float(self.value))
        if self.type == "binary":
            return base64.b64decode(str(self.value)).hex()
        return str(self.value)


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """A timestamped event on a span (an exception, a log line...)."""

    name: str
    time_ns: int
    attributes: tuple[Attribute, ...] = ()


@dataclass(frozen=True, slots=True)
class SpanLink:
    """A link from a span to a span of another (or the same) trace."""

    trace_id: str
    span_id: str


@dataclass(frozen=True, slots=True)
class StoredSpan:
    """One span as the store keeps it; IDs are lowercase hex (32 and 16 digits)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    service: str
    operation: str
    kind: SpanKind
    start_ns: int
    end_ns: int
    status_code: StatusCode = StatusCode.UNSET
    status_message: str = ""
    attributes: tuple[Attribute, ...] = ()
    resource_attributes: tuple[Attribute, ...] = ()
    events: tuple[SpanEvent, ...] = ()
    links: tuple[SpanLink, ...] = ()
    flags: int = 0
    scope_name: str = ""
    scope_version: str = ""

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)
