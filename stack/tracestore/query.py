"""Jaeger trace search parameters: parsing and tag matching.

``GET /api/traces`` takes ``service`` (required unless ``traceID`` is given),
``operation``, ``tags`` (a JSON object of strings) and/or repeated
``tag=key:value``, ``start``/``end`` (unix microseconds, bounds on a span's
start time), ``minDuration``/``maxDuration`` (Go duration strings such as
``100ms``, ``1.5s``, ``500us``; 0 is no bound), ``limit`` (traces, default
100) and ``lookback`` (``1h``, ``2d``...: the start bound when ``start`` is
absent; an addition of this store, which Jaeger ignores).

As in Jaeger's query service, a missing ``end`` is now and a missing ``start``
is now minus the lookback: 48 hours unless ``lookback`` says otherwise (see
``parse_trace_query``'s ``default_lookback_ns``).

A trace matches when at least one of its spans satisfies every condition;
tag values are compared as strings with a span's tags, its process tags and
its log fields, as Jaeger's own stores do (Attribute.as_string).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from stack.tracestore.exceptions import InvalidQuery
from stack.tracestore.jaeger import log_fields, process_tags, span_tags
from stack.tracestore.model import StoredSpan

DEFAULT_LIMIT = 100
DEFAULT_LOOKBACK_NS = 48 * 3_600_000_000_000
"""How far back a search without ``start`` looks (Jaeger's default query lookback)."""
TRACE_ID_HEX_DIGITS = 32

_UNIT_NS: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # the micro sign, as Go accepts it
    "μs": 1_000,  # the Greek mu, as Go accepts it
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DAY_NS = 24 * _UNIT_NS["h"]
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")
_HEX = re.compile(r"[0-9a-fA-F]{1,32}")


def parse_duration_ns(text: str, *, allow_days: bool = False) -> int:
    """Nanoseconds in a Go duration string (``300ms``, ``1.5h``, ``2h45m``, ``0``)."""
    value = text.strip()
    if not value:
        raise InvalidQuery("empty duration")
    if value == "0":
        return 0
    total = Fraction(0)
    position = 0
    while position < len(value):
        match = _DURATION_PART.match(value, position)
        if match is None or (match[2] == "d" and not allow_days):
            raise InvalidQuery(f"invalid duration {text!r}: use e.g. 500us, 100ms, 1.5s, 2m, 1h")
        unit = _DAY_NS if match[2] == "d" else _UNIT_NS[match[2]]
        total += Fraction(match[1]) * unit
        position = match.end()
    return int(total)


def normalize_trace_id(text: str) -> str:
    """A trace ID as stored: lowercase hex, left-padded to 32 digits."""
    value = text.strip()
    if not _HEX.fullmatch(value):
        raise InvalidQuery(f"trace ID {text!r} is not 1-32 hex digits")
    return value.lower().rjust(TRACE_ID_HEX_DIGITS, "0")


@dataclass(frozen=True, slots=True)
class TraceQuery:
    """A parsed ``GET /api/traces`` search; times and durations in nanoseconds."""

    service: str = ""
    operation: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    start_min_ns: int | None = None
    start_max_ns: int | None = None
    min_duration_ns: int | None = None
    max_duration_ns: int | None = None
    limit: int = DEFAULT_LIMIT
    trace_ids: tuple[str, ...] = ()

    def matches_tags(self, span: StoredSpan) -> bool:
        """True when every ``tags`` pair is a tag, process tag or log field of ``span``."""
        if not self.tags:
            return True
        available = {(a.key, a.as_string()) for a in span_tags(span)}
        available.update((a.key, a.as_string()) for a in process_tags(span))
        for event in span.events:
            available.update((a.key, a.as_string()) for a in log_fields(event))
        return all(pair in available for pair in self.tags)


def _single(params: Mapping[str, Sequence[str]], name: str) -> str:
    values = params.get(name) or ()
    return values[0].strip() if values else ""


def _micros_to_ns(params: Mapping[str, Sequence[str]], name: str) -> int | None:
    raw = _single(params, name)
    if not raw:
        return None
    try:
        return int(raw) * 1_000
    except ValueError as exc:
        raise InvalidQuery(
            f"unable to parse param '{name}': {raw!r} is not unix microseconds"
        ) from exc


def _duration(params: Mapping[str, Sequence[str]], name: str) -> int | None:
    """A duration bound; absent, empty or zero is none, as for Jaeger."""
    raw = _single(params, name)
    if not raw:
        return None
    try:
        return parse_duration_ns(raw) or None
    except InvalidQuery as exc:
        raise InvalidQuery(f"unable to parse param '{name}': {exc}") from exc


def _tags(params: Mapping[str, Sequence[str]]) -> tuple[tuple[str, str], ...]:
    tags: dict[str, str] = {}
    for tag in params.get("tag") or ():
        key, sep, value = tag.partition(":")
        if not sep:
            raise InvalidQuery(f"malformed 'tag' parameter, expecting key:value, received: {tag}")
        tags[key] = value
    for raw in params.get("tags") or ():
        try:
            decoded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidQuery(f"malformed 'tags' parameter, cannot unmarshal JSON: {exc}") from exc
        if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
            raise InvalidQuery(
                "malformed 'tags' parameter: expecting a JSON object of strings, "
                f'like {{"error":"true"}}, received: {raw}'
            )
        tags.update(decoded)
    return tuple(sorted(tags.items()))


def _lookback_ns(params: Mapping[str, Sequence[str]], default_ns: int | None) -> int | None:
    raw = _single(params, "lookback")
    if raw:
        try:
            return parse_duration_ns(raw, allow_days=True)
        except InvalidQuery:
            pass  # the Jaeger UI sends lookback=custom with explicit start/end
    return default_ns


def parse_trace_query(
    params: Mapping[str, Sequence[str]],
    now_ns: int | None = None,
    *,
    default_lookback_ns: int | None = DEFAULT_LOOKBACK_NS,
) -> TraceQuery:
    """Parse ``GET /api/traces`` query parameters (each name → its values).

    A missing ``end`` becomes now (``now_ns``, by default the current time) and a
    missing ``start`` now minus ``lookback``, or else minus ``default_lookback_ns``.
    With ``default_lookback_ns=None`` nothing is implied: bounds that are absent (and
    not given by ``lookback``) stay open.
    """
    limit_raw = _single(params, "limit")
    try:
        limit = int(limit_raw) if limit_raw else DEFAULT_LIMIT
    except ValueError as exc:
        raise InvalidQuery(
            f"unable to parse param 'limit': {limit_raw!r} is not an integer"
        ) from exc
    now = time.time_ns() if now_ns is None else now_ns
    start_min = _micros_to_ns(params, "start")
    start_max = _micros_to_ns(params, "end")
    if start_max is None and default_lookback_ns is not None:
        start_max = now
    lookback = _lookback_ns(params, default_lookback_ns)
    if start_min is None and lookback is not None:
        start_min = now - lookback
    query = TraceQuery(
        service=_single(params, "service"),
        operation=_single(params, "operation"),
        tags=_tags(params),
        start_min_ns=start_min,
        start_max_ns=start_max,
        min_duration_ns=_duration(params, "minDuration"),
        max_duration_ns=_duration(params, "maxDuration"),
        limit=limit if limit > 0 else DEFAULT_LIMIT,
        trace_ids=tuple(normalize_trace_id(t) for t in params.get("traceID") or ()),
    )
    if not query.trace_ids and not query.service:
        raise InvalidQuery("parameter 'service' is required")
    if (
        query.min_duration_ns is not None
        and query.max_duration_ns is not None
        and query.max_duration_ns < query.min_duration_ns
    ):
        raise InvalidQuery("'maxDuration' should be greater than 'minDuration'")
    return query


__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_LOOKBACK_NS",
    "TraceQuery",
    "normalize_trace_id",
    "parse_duration_ns",
    "parse_trace_query",
]
