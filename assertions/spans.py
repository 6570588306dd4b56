"""Traces and spans, backend-neutral: attributes, timing, error status and the span tree.

A :class:`Trace` holds its spans and answers tree questions — root, parent,
children, descendants, ancestors — from each span's ``CHILD_OF`` reference.
Times are kept as the backend gives them (unix microseconds, Jaeger's unit)
with :class:`~datetime.datetime` / seconds helpers beside them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

#: An attribute (Jaeger: tag) value, typed as the backend typed it.
AttributeValue = str | bool | int | float
#: A span's or process's attributes by key.
Attributes = dict[str, AttributeValue]

ReferenceType = Literal["CHILD_OF", "FOLLOWS_FROM"]
ERROR_STATUS = "ERROR"
_MICROS = 1_000_000


def attribute_text(value: AttributeValue) -> str:
    """An attribute as text, the way Jaeger compares tags: ``true``/``false`` for booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def from_micros(micros: int) -> datetime:
    """Unix microseconds → an aware UTC datetime (exact: no float rounding)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def to_micros(at: datetime) -> int:
    """An aware datetime → unix microseconds; a naive datetime is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _MICROS + delta.microseconds


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class SpanReference(_Model):
    ref_type: ReferenceType
    trace_id: str
    span_id: str


class SpanLog(_Model):
    """A span event (Jaeger: log); ``event`` is its name."""

    timestamp_us: int
    fields: Attributes = Field(default_factory=dict)

    @property
    def at(self) -> datetime:
        return from_micros(self.timestamp_us)

    @property
    def event(self) -> str | None:
        value = self.fields.get("event")
        return None if value is None else attribute_text(value)


class Span(_Model):
    """One span with its service resolved and its parent taken from ``CHILD_OF``."""

    trace_id: str
    span_id: str
    operation: str
    service: str
    start_us: int
    duration_us: int
    tags: Attributes = Field(default_factory=dict)
    process_tags: Attributes = Field(default_factory=dict)
    references: list[SpanReference] = Field(default_factory=list)
    logs: list[SpanLog] = Field(default_factory=list)

    @property
    def parent_span_id(self) -> str | None:
        """The span this one is a ``CHILD_OF`` (None for a root span)."""
        for ref in self.references:
            if ref.ref_type == "CHILD_OF":
                return ref.span_id
        return None

    @property
    def start(self) -> datetime:
        return from_micros(self.start_us)

    @property
    def end(self) -> datetime:
        return from_micros(self.start_us + self.duration_us)

    @property
    def duration(self) -> timedelta:
        return timedelta(microseconds=self.duration_us)

    @property
    def duration_s(self) -> float:
        return self.duration_us / _MICROS

    @property
    def kind(self) -> str | None:
        """``server``, ``client``, ``internal``, ``producer`` or ``consumer`` when known."""
        value = self.tags.get("span.kind")
        return None if value is None else attribute_text(value)

    @property
    def status_code(self) -> str | None:
        """OpenTelemetry status: ``OK``, ``ERROR`` or None when unset."""
        value = self.tags.get("otel.status_code")
        return None if value is None else attribute_text(value)

    @property
    def error(self) -> bool:
        """True when the span carries ``error=true`` or ``otel.status_code=ERROR``."""
        flag = self.tags.get("error")
        return (flag is not None and attribute_text(flag) == "true") or (
            self.status_code == ERROR_STATUS
        )

    def attribute(self, key: str) -> AttributeValue | None:
        """A span tag, else a process (resource) tag, else None."""
        if key in self.tags:
            return self.tags[key]
        return self.process_tags.get(key)

    def describe(self) -> str:
        """``service: operation (12.3 ms)`` for failure messages."""
        flag = ", error" if self.error else ""
        return f"{self.service}: {self.operation} ({self.duration_s * 1000:.1f} ms{flag})"


class Trace(_Model):
    """A trace's spans (start order) and its tree."""

    trace_id: str
    spans: list[Span]
    warnings: list[str] = Field(default_factory=list)

    _by_id: dict[str, Span] = PrivateAttr(default_factory=dict)
    _children: dict[str, list[Span]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        self._by_id = {span.span_id: span for span in self.spans}
        children: dict[str, list[Span]] = {}
        for span in sorted(self.spans, key=lambda s: (s.start_us, s.span_id)):
            parent = span.parent_span_id
            if parent is not None and parent in self._by_id:
                children.setdefault(parent, []).append(span)
        self._children = children

    def span(self, span_id: str) -> Span | None:
        return self._by_id.get(span_id)

    @property
    def roots(self) -> list[Span]:
        """Spans with no parent in this trace (more than one when a parent is missing)."""
        return sorted(
            (s for s in self.spans if s.parent_span_id not in self._by_id),
            key=lambda s: (s.start_us, s.span_id),
        )

    @property
    def root(self) -> Span | None:
        """The earliest root span."""
        roots = self.roots
        return roots[0] if roots else None

    def parent(self, span: Span) -> Span | None:
        parent = span.parent_span_id
        return None if parent is None else self._by_id.get(parent)

    def children(self, span: Span) -> list[Span]:
        """Direct children, by start time."""
        return list(self._children.get(span.span_id, []))

    def descendants(self, span: Span) -> list[Span]:
        """Every span below ``span``, depth first, children by start time."""
        found: list[Span] = []
        stack = list(reversed(self._children.get(span.span_id, [])))
        seen = {span.span_id}
        while stack:
            current = stack.pop()
            if current.span_id in seen:  # a malformed trace may loop
                continue
            seen.add(current.span_id)
            found.append(current)
            stack.extend(reversed(self._children.get(current.span_id, [])))
        return found

    def ancestors(self, span: Span) -> list[Span]:
        """Parent, grandparent... up to the root."""
        found: list[Span] = []
        seen = {span.span_id}
        current = self.parent(span)
        while current is not None and current.span_id not in seen:
            seen.add(current.span_id)
            found.append(current)
            current = self.parent(current)
        return found

    def depth(self, span: Span) -> int:
        return len(self.ancestors(span))

    @property
    def services(self) -> list[str]:
        return sorted({span.service for span in self.spans})

    @property
    def errors(self) -> list[Span]:
        return [span for span in self.spans if span.error]

    @property
    def start(self) -> datetime | None:
        return min((s.start for s in self.spans), default=None)

    @property
    def duration_s(self) -> float:
        if not self.spans:
            return 0.0
        first = min(s.start_us for s in self.spans)
        last = max(s.start_us + s.duration_us for s in self.spans)
        return (last - first) / _MICROS

    def find(self, *, service: str | None = None, operation: str | None = None) -> list[Span]:
        """Spans of ``service`` and/or named ``operation``."""
        return [
            span
            for span in self.spans
            if (service is None or span.service == service)
            and (operation is None or span.operation == operation)
        ]

    def render(self) -> str:
        """The tree as indented text (one line per span), for failure messages."""
        lines: list[str] = []
        for root in self.roots:
            lines.append(root.describe())
            lines.extend(
                "  " * self.depth(span) + span.describe() for span in self.descendants(root)
            )
        return "\n".join(lines)


__all__ = [
    "AttributeValue",
    "Attributes",
    "ReferenceType",
    "Span",
    "SpanLog",
    "SpanReference",
    "Trace",
    "attribute_text",
    "from_micros",
    "to_micros",
]
