"""Structured JSON logs: structlog for our events, stdlib and uvicorn through the same pipeline.

Each line is one JSON object with ``timestamp``, ``level``, ``event``,
``service``, ``version``, ``environment``, the request's ``request_id`` and
``run_id`` (bound per request in contextvars) and the active span's
``trace_id``/``span_id``. A masking processor removes personal data before
anything is rendered. Records go through a :class:`~logging.handlers.QueueHandler`
so a slow disk or pipe never blocks the event loop.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import structlog
from opentelemetry import trace

from target_app.pii import mask_value

_listener: logging.handlers.QueueListener | None = None


def add_trace_context(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Add ``trace_id``/``span_id`` of the active OpenTelemetry span, if any."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


def mask_pii(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Mask emails, tokens, passwords and card numbers in every field."""
    for key, value in list(event_dict.items()):
        if key in {"timestamp", "level", "trace_id", "span_id", "request_id", "run_id"}:
            continue
        event_dict[key] = mask_value(key, value)
    return event_dict


def _static_fields(service: str, version: str, environment: str) -> structlog.types.Processor:
    def add(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        event_dict.setdefault("version", version)
        event_dict.setdefault("environment", environment)
        return event_dict

    return add


def configure_logging(
    service: str,
    version: str,
    environment: str,
    log_file: Path | None = None,
    level: str = "INFO",
) -> None:
    """Route structlog and every stdlib logger to JSON lines on stderr and ``log_file``."""
    global _listener
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        _static_fields(service, version, environment),
        add_trace_context,
        structlog.processors.format_exc_info,
        mask_pii,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    )
    sinks: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        sinks.append(logging.FileHandler(log_file, encoding="utf-8"))
    for sink in sinks:
        sink.setFormatter(formatter)

    if _listener is not None:
        _listener.stop()
    records: queue.Queue[logging.LogRecord] = queue.Queue(-1)
    _listener = logging.handlers.QueueListener(records, *sinks, respect_handler_level=False)
    _listener.start()
    atexit.register(_listener.stop)

    root = logging.getLogger()
    root.handlers.clear()
    root.addHandler(_PreformattingQueueHandler(records))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio", "httpx"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Our own http.request event replaces uvicorn's access line.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


class _PreformattingQueueHandler(logging.handlers.QueueHandler):
    """Queue handler that keeps the record intact for the listener's formatter.

    The stock ``prepare`` formats the message early and drops ``exc_info``;
    the structlog formatter needs the original record (for structlog events
    its ``msg`` is the already-processed event dict).
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        if not isinstance(record.msg, dict):
            # A stdlib record: capture the request context and trace ids now,
            # on the caller's thread; the formatter's ExtraAdder picks them up.
            bound = dict(structlog.contextvars.get_contextvars())
            add_trace_context(None, "", bound)
            for key, value in bound.items():
                record.__dict__.setdefault(key, value)
        return record


def flush_logging() -> None:
    """Drain the queue (tests and shutdown)."""
    global _listener
    if _listener is None:
        return
    _listener.stop()
    _listener.start()


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
