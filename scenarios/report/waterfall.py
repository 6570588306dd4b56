"""A trace as a span waterfall: one row per span, a bar placed on the trace's own time axis.

Shared by every page that shows a trace (the run report's slowest trace, and
any trace view): :func:`waterfall_rows` gives the rows as data,
:func:`render_waterfall` an HTML fragment (no script, no external resource)
styled by :data:`WATERFALL_CSS`, whose classes all start with ``wf-``.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from assertions.spans import Span, Trace, attribute_text
from scenarios.report.templating import environment

MIN_BAR_PCT = 0.3
WATERFALL_CSS = """
.wf { width: 100%; border-collapse: collapse; font-size: 12px; }
.wf th, .wf td { padding: 2px 6px; border-bottom: 1px solid #eaeef2; text-align: left;
  vertical-align: middle; }
.wf td.wf-num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.wf td.wf-op { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 28em; }
.wf td.wf-track { width: 45%; min-width: 12em; }
.wf-lane { position: relative; height: 12px; background: #f6f8fa; }
.wf-bar { position: absolute; top: 1px; bottom: 1px; background: #54aeff; min-width: 1px;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; }
.wf-error .wf-bar { background: #cf222e; }
.wf-error td { color: #a40e26; }
.wf-svc { color: #57606a; white-space: nowrap; }
.wf-msg { color: #a40e26; font-size: 11px; }
"""


@dataclass(frozen=True)
class WaterfallRow:
    """One span: its place in the tree and on the trace's time axis (percent of the trace)."""

    span_id: str
    service: str
    operation: str
    depth: int
    offset_ms: float
    duration_ms: float
    left_pct: float
    width_pct: float
    error: bool
    error_message: str


def _error_message(span: Span) -> str:
    for log in span.logs:
        if log.event == "exception":
            kind = log.fields.get("exception.type")
            text = log.fields.get("exception.message")
            parts = [attribute_text(p) for p in (kind, text) if p is not None]
            if parts:
                return ": ".join(parts)
    value = span.tags.get("otel.status_description") or span.tags.get("error.type")
    return attribute_text(value) if value is not None else ""


def waterfall_rows(trace: Trace) -> list[WaterfallRow]:
    """Every span depth first (children by start time), timed from the trace's start."""
    if not trace.spans:
        return []
    first = min(s.start_us for s in trace.spans)
    total = max(trace.duration_s * 1_000_000, 1.0)
    ordered: list[Span] = []
    for root in trace.roots:
        ordered.append(root)
        ordered.extend(trace.descendants(root))
    seen = {s.span_id for s in ordered}
    ordered.extend(s for s in trace.spans if s.span_id not in seen)  # cycles, just in case
    rows: list[WaterfallRow] = []
    for span in ordered:
        left = 100.0 * (span.start_us - first) / total
        rows.append(
            WaterfallRow(
                span_id=span.span_id,
                service=span.service,
                operation=span.operation,
                depth=trace.depth(span),
                offset_ms=(span.start_us - first) / 1000.0,
                duration_ms=span.duration_us / 1000.0,
                left_pct=round(min(left, 100.0 - MIN_BAR_PCT), 3),
                width_pct=round(max(100.0 * span.duration_us / total, MIN_BAR_PCT), 3),
                error=span.error,
                error_message=_error_message(span) if span.error else "",
            )
        )
    return rows


def render_waterfall(trace: Trace) -> Markup:
    """The waterfall of ``trace`` as an HTML ``<table class="wf">`` fragment."""
    template = environment().get_template("waterfall.html.j2")
    return Markup(  # noqa: S704 - rendered by an autoescaping Jinja environment
        template.render(trace=trace, rows=waterfall_rows(trace))
    )


__all__ = ["WATERFALL_CSS", "WaterfallRow", "render_waterfall", "waterfall_rows"]
