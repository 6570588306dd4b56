"""JSON-lines logging on the standard library and python-json-logger.

Every record carries ``timestamp`` (ISO-8601, UTC), ``level``, ``event`` (the
message), ``logger``, ``run_id`` (from ``X-Chaoslab-Run``, else null),
``trace_id``/``span_id`` of the active OpenTelemetry span (else null) and,
inside a request, ``method``, ``path`` and ``endpoint``.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from flask import has_request_context, request
from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

RUN_ID_HEADER = "X-Chaoslab-Run"
# A run id is echoed into logs, tags and span attributes: keep it short and plain.
_SAFE_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

current_run_id: ContextVar[str | None] = ContextVar("bookshop_run_id", default=None)


def parse_run_id(raw: str | None) -> str | None:
    """The run id of an ``X-Chaoslab-Run`` value, or None when absent or unsafe."""
    if raw is None:
        return None
    value = raw.strip()
    return value if _SAFE_RUN_ID.fullmatch(value) else None


def endpoint_label() -> str:
    """The matched Flask rule without converters (``/books/<book_id>``), or ``unmatched``."""
    rule = request.url_rule
    if rule is None:
        return "unmatched"
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"<\1>", rule.rule)


class ContextFilter(logging.Filter):
    """Adds run id, trace ids and request fields to every record (explicit extras win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields: dict[str, Any] = {
            "level": record.levelname.lower(),
            "run_id": current_run_id.get(),
            "trace_id": None,
            "span_id": None,
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            fields["trace_id"] = format(span_context.trace_id, "032x")
            fields["span_id"] = format(span_context.span_id, "016x")
        if has_request_context():
            fields["method"] = request.method
            fields["path"] = request.path
            fields["endpoint"] = endpoint_label()
        for key, value in fields.items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def configure_logging(log_file: Path | None, level: int = logging.INFO) -> None:
    """Send every logger's records, as JSON lines, to ``log_file`` (or stderr)."""
    handler: logging.Handler
    if log_file is None:
        handler = logging.StreamHandler(sys.stderr)
    else:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(
        JsonFormatter(
            ["message", "name"],
            rename_fields={"message": "event", "name": "logger"},
            timestamp=True,
        )
    )
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # One INFO line per pricing call would double the log volume: request.completed says enough.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
