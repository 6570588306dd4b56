"""Pages for humans: trace search and a span waterfall (``/``, ``/search``, ``/trace/{id}``).

Server-rendered with Jinja2 (autoescaping on), without JavaScript or external
assets (inline CSS, and a Content-Security-Policy forbidding anything else), so
they work offline during a game-day drill. The search is ``GET /api/traces``'s
(:func:`~stack.tracestore.query.parse_trace_query`, then
:meth:`~stack.tracestore.storage.SpanStore.find_trace_ids`), run when ``service``
is in the query string, with friendlier fields: ``tags`` is ``k=v k2="v 2"``
or Jaeger's JSON object, ``errors=1`` adds ``error=true``, a bare number
duration is milliseconds, ``lookback`` is ``5m``/``15m``/``1h`` (default)/``all``
or ``custom`` for ``start``/``end`` (ISO date and time in UTC, or unix
microseconds), ``limit`` is 1-1000 (default 20). Results come newest first.
Invalid input is shown on the page with status 400; an unknown trace is a 404.
"""

from __future__ import annotations

import json
import re
import shlex
import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from stack.tracestore.dependencies import ClockDep, StoreDep
from stack.tracestore.exceptions import InvalidQuery
from stack.tracestore.jaeger import process_tags
from stack.tracestore.model import StatusCode, StoredSpan
from stack.tracestore.query import TraceQuery, normalize_trace_id, parse_trace_query

router = APIRouter(include_in_schema=False)

LOOKBACKS = (
    ("5m", "last 5 minutes"),
    ("15m", "last 15 minutes"),
    ("1h", "last hour"),
    ("all", "all time"),
    ("custom", "start/end below"),
)
DEFAULT_LOOKBACK = "1h"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
MIN_BAR_PCT = 0.2
"""Narrowest bar drawn, so that a zero-length span stays visible."""
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
NS_PER_MS = 1_000_000
_INT64_MAX = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECONDS = re.compile(r"\d+(\.\d*)?|\.\d+")


@cache
def environment() -> Environment:
    """The pages' templates, shipped in the package; autoescaping on."""
    env = Environment(
        loader=PackageLoader("stack.tracestore", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ms=_ms, utc=_utc, hue=_hue, process_tags=process_tags)
    return env


def _ms(ns: int) -> str:
    """Milliseconds, at most 3 decimals, no trailing zeros: ``250``, ``0.125``, ``1,500.5``."""
    return f"{ns / NS_PER_MS:,.3f}".rstrip("0").rstrip(".")


def _pct(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _utc(ns: int) -> str:
    moment = _EPOCH + timedelta(microseconds=ns // 1_000)  # int64 ns: years 1677-2262
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 1_000:03d} UTC"


def _hue(service: str) -> int:
    """A stable bar colour per service, away from the red kept for errors."""
    return 40 + zlib.crc32(service.encode()) % 260


# -- search ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchForm:
    """The search form's fields as typed, to run the search and fill the form again."""

    service: str = ""
    operation: str = ""
    tags: str = ""
    errors_only: bool = False
    min_duration: str = ""
    max_duration: str = ""
    lookback: str = DEFAULT_LOOKBACK
    start: str = ""
    end: str = ""
    limit: str = str(DEFAULT_LIMIT)

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SearchForm:
        def get(name: str) -> str:
            return params.get(name, "").strip()

        start, end = get("start"), get("end")
        return cls(
            service=get("service"),
            operation=get("operation"),
            tags=get("tags"),
            errors_only=get("errors").lower() in {"1", "on", "true", "yes"},
            min_duration=get("minDuration"),
            max_duration=get("maxDuration"),
            lookback=get("lookback") or ("custom" if start or end else DEFAULT_LOOKBACK),
            start=start,
            end=end,
            limit=get("limit") or str(DEFAULT_LIMIT),
        )


def parse_tags(text: str) -> dict[str, str]:
    """``k=v k2="v 2"`` or a JSON object of strings → {key: value}."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidQuery(f"tags: not a JSON object ({exc})") from exc
        if not isinstance(decoded, dict) or not all(isinstance(v, str) for v in decoded.values()):
            raise InvalidQuery('tags: expecting a JSON object of strings like {"error": "true"}')
        return {str(key): str(value) for key, value in decoded.items()}
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidQuery(f"tags: {exc}") from exc
    tags: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidQuery(f"tags: expecting key=value, got {word!r}")
        tags[key] = value
    return tags


def _limit(raw: str) -> int:
    try:
        limit = int(raw)
    except ValueError as exc:
        raise InvalidQuery(f"limit: {raw!r} is not a whole number") from exc
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit: {limit} is not between 1 and {MAX_LIMIT}")
    return limit


def _micros(name: str, raw: str) -> int:
    """Unix microseconds from digits or an ISO date and time (UTC unless it says otherwise)."""
    if raw.isascii() and raw.isdigit():
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidQuery(
            f"{name}: {raw!r} is not a date and time like 2024-05-01T13:45 (UTC)"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def jaeger_params(form: SearchForm) -> dict[str, list[str]]:
    """The form as ``GET /api/traces`` query parameters."""
    if not form.service:
        raise InvalidQuery("choose a service to search")
    params = {"service": [form.service], "limit": [str(_limit(form.limit))]}
    if form.operation:
        params["operation"] = [form.operation]
    tags = parse_tags(form.tags)
    if form.errors_only:
        tags["error"] = "true"
    if tags:
        params["tags"] = [json.dumps(tags)]
    for name, raw in (("minDuration", form.min_duration), ("maxDuration", form.max_duration)):
        if raw:
            params[name] = [f"{raw}ms" if _MILLISECONDS.fullmatch(raw) else raw]
    if form.lookback not in dict(LOOKBACKS):
        choices = ", ".join(value for value, _ in LOOKBACKS)
        raise InvalidQuery(f"time range: {form.lookback!r} is not one of {choices}")
    if form.lookback == "custom":
        for name, raw in (("start", form.start), ("end", form.end)):
            if raw:
                params[name] = [str(_micros(name, raw))]
    elif form.lookback != "all":
        params["lookback"] = [form.lookback]
    return params


def search_query(form: SearchForm, now_ns: int) -> TraceQuery:
    """The store query for ``form``; :class:`InvalidQuery` when a field is malformed.

    Unlike the API, the page implies no time window: "all time" has no bound.
    """
    query = parse_trace_query(jaeger_params(form), now_ns, default_lookback_ns=None)
    bounds = (query.start_min_ns, query.start_max_ns, query.min_duration_ns, query.max_duration_ns)
    if any(value is not None and abs(value) > _INT64_MAX for value in bounds):
        raise InvalidQuery("a time or duration is out of range (years 1678 to 2262, 292 years)")
    return query


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One search result row; ``bar_pct`` is the duration relative to the longest result."""

    trace_id: str
    service: str
    operation: str
    start_ns: int
    duration_ns: int
    span_count: int
    error_count: int
    services: tuple[str, ...]
    bar_pct: str = "0"


def summarize(trace_id: str, spans: Sequence[StoredSpan]) -> TraceSummary:
    ordered = tree_order(spans)
    start = min(s.start_ns for s in spans)
    return TraceSummary(
        trace_id=trace_id,
        service=ordered[0][0].service,
        operation=ordered[0][0].operation,
        start_ns=start,
        duration_ns=max(0, max(s.end_ns for s in spans) - start),
        span_count=len(spans),
        error_count=sum(s.status_code is StatusCode.ERROR for s in spans),
        services=tuple(dict.fromkeys(s.service for s, _ in ordered)),
    )


# -- waterfall ------------------------------------------------------------------------------


def _children(spans: Sequence[StoredSpan]) -> dict[str, list[StoredSpan]]:
    """Span ID → its children in ``spans`` (in ``spans`` order); no entry for absent parents."""
    ids = {s.span_id for s in spans}
    children: dict[str, list[StoredSpan]] = defaultdict(list)
    for span in spans:
        if span.parent_span_id in ids and span.parent_span_id != span.span_id:
            children[span.parent_span_id].append(span)
    return children


def tree_order(spans: Sequence[StoredSpan]) -> list[tuple[StoredSpan, int]]:
    """(span, depth) with every parent before its children, siblings by start time.

    A span whose parent is not in the trace (not received, pruned) is a root;
    spans caught in a parent cycle come last, each cycle from its earliest span.
    """
    by_start = sorted(spans, key=lambda s: (s.start_ns, s.span_id))
    children = _children(by_start)
    nested = {child.span_id for kids in children.values() for child in kids}
    roots = [s for s in by_start if s.span_id not in nested]
    ordered: list[tuple[StoredSpan, int]] = []
    seen: set[str] = set()
    for first in [*roots, *by_start]:
        stack = [(first, 0)]
        while stack:
            span, depth = stack.pop()
            if span.span_id in seen:
                continue
            seen.add(span.span_id)
            ordered.append((span, depth))
            stack.extend((child, depth + 1) for child in reversed(children[span.span_id]))
    return ordered


def self_time_ns(span: StoredSpan, children: Sequence[StoredSpan]) -> int:
    """``span``'s duration not covered by any of its children."""
    covered, reach = 0, span.start_ns
    for start, end in sorted((c.start_ns, min(c.end_ns, span.end_ns)) for c in children):
        start = max(start, reach)
        if end > start:
            covered += end - start
            reach = end
    return max(0, span.duration_ns - covered)


@dataclass(frozen=True, slots=True)
class SpanRow:
    """One waterfall row; the bar's position and width are % of the trace's duration."""

    span: StoredSpan
    depth: int
    parent_missing: bool
    self_ns: int
    left_pct: str
    width_pct: str
    error: bool


@dataclass(frozen=True, slots=True)
class Waterfall:
    summary: TraceSummary
    rows: tuple[SpanRow, ...]
    ticks: tuple[tuple[str, int], ...]
    first_error: SpanRow | None
    busiest: SpanRow


def build_waterfall(trace_id: str, spans: Sequence[StoredSpan]) -> Waterfall:
    summary = summarize(trace_id, spans)
    origin, total = summary.start_ns, summary.duration_ns
    ids = {s.span_id for s in spans}
    children = _children(spans)
    rows: list[SpanRow] = []
    for span, depth in tree_order(spans):
        left, width = 0.0, 100.0
        if total > 0:
            width = max(MIN_BAR_PCT, span.duration_ns / total * 100)
            left = min((span.start_ns - origin) / total * 100, 100 - width)
        rows.append(
            SpanRow(
                span=span,
                depth=depth,
                parent_missing=bool(span.parent_span_id) and span.parent_span_id not in ids,
                self_ns=self_time_ns(span, children[span.span_id]),
                left_pct=_pct(left),
                width_pct=_pct(width),
                error=span.status_code is StatusCode.ERROR,
            )
        )
    return Waterfall(
        summary=summary,
        rows=tuple(rows),
        ticks=tuple((_pct(q * 25), total * q // 4) for q in range(5)),
        first_error=next((row for row in rows if row.error), None),
        busiest=max(rows, key=lambda row: row.self_ns),  # the first of equals in tree order
    )


# -- routes ---------------------------------------------------------------------------------


def _page(
    request: Request, template: str, context: Mapping[str, object], status_code: int = 200
) -> HTMLResponse:
    base = str(request.scope.get("root_path", "")).rstrip("/")
    html = environment().get_template(template).render(base=base, **context)
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


@router.get("/")
def home(request: Request) -> RedirectResponse:
    return RedirectResponse(str(request.scope.get("root_path", "")).rstrip("/") + "/search")


@router.get("/search")
def search(request: Request, store: StoreDep, clock: ClockDep) -> HTMLResponse:
    form = SearchForm.from_params(request.query_params)
    context: dict[str, object] = {
        "form": form,
        "services": store.services(),
        "operations": list(dict.fromkeys(name for name, _ in store.operations(form.service))),
        "lookbacks": LOOKBACKS,
        "max_limit": MAX_LIMIT,
        "error": None,
        "results": None,
    }
    if "service" not in request.query_params:
        return _page(request, "search.html.j2", context)
    try:
        query = search_query(form, clock())
    except InvalidQuery as exc:
        return _page(request, "search.html.j2", {**context, "error": str(exc)}, 400)
    found = store.traces(store.find_trace_ids(query))
    results = sorted(
        (summarize(trace_id, spans) for trace_id, spans in found.items()),
        key=lambda s: (-s.start_ns, s.trace_id),
    )
    longest = max((s.duration_ns for s in results), default=0) or 1
    context["results"] = [replace(s, bar_pct=_pct(s.duration_ns / longest * 100)) for s in results]
    context["limit"] = query.limit
    return _page(request, "search.html.j2", context)


@router.get("/trace/{trace_id}")
def trace(trace_id: str, request: Request, store: StoreDep) -> HTMLResponse:
    try:
        normalized = normalize_trace_id(trace_id)
    except InvalidQuery as exc:
        context = {"title": "Invalid trace ID", "message": str(exc)}
        return _page(request, "error.html.j2", context, 400)
    spans = store.traces([normalized]).get(normalized)
    if not spans:
        message = f"No span of trace {normalized} is stored (not received yet, or pruned)."
        context = {"title": "Trace not found", "message": message}
        return _page(request, "error.html.j2", context, 404)
    return _page(request, "trace.html.j2", {"trace": build_waterfall(normalized, spans)})


__all__ = [
    "SearchForm",
    "TraceSummary",
    "Waterfall",
    "build_waterfall",
    "parse_tags",
    "router",
    "search_query",
    "tree_order",
]
