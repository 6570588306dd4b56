"""Sentry and OpenTelemetry, set up as their own docs show for a Flask app.

* Sentry: ``sentry_sdk.init(dsn=..., integrations=[FlaskIntegration()])`` before
  the app exists; an empty ``SENTRY_DSN`` leaves it off. Errors only: tracing
  is OpenTelemetry's job, so ``traces_sample_rate`` stays unset.
* OpenTelemetry: a ``TracerProvider`` (``service.name`` from
  ``OTEL_SERVICE_NAME``, every trace sampled) with a ``BatchSpanProcessor``
  and an OTLP/HTTP exporter to ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, then
  ``FlaskInstrumentor().instrument_app(app)``, ``PsycopgInstrumentor().instrument()``
  and ``HTTPXClientInstrumentor().instrument()``.
"""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk
from flask import Flask
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import Span
from sentry_sdk.integrations.flask import FlaskIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.types import Event, Hint

from bookshop.config import Settings
from bookshop.logs import parse_run_id

RUN_ID_ATTRIBUTE = "chaoslab.run_id"
# Probes and scrapes would drown the traces that matter.
UNTRACED_URLS = r"/healthz$,/readyz$,/metrics$"


def configure_sentry(settings: Settings) -> bool:
    """Initialise sentry-sdk; False (and nothing done) without a DSN."""
    if not settings.sentry_dsn:
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        integrations=[
            FlaskIntegration(),
            # Log records become breadcrumbs only: events are captured explicitly.
            LoggingIntegration(level=logging.INFO, event_level=None),
        ],
        send_default_pii=False,
        transport_queue_size=settings.sentry_queue_size,
        before_send=_tag_trace_id,
    )
    return True


def _tag_trace_id(event: Event, hint: Hint) -> Event:
    """Put the active OpenTelemetry trace id on the event, to go from an issue to its trace."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event.setdefault("tags", {})["trace_id"] = format(span_context.trace_id, "032x")
    return event


def configure_tracing(settings: Settings) -> TracerProvider:
    """Install the global tracer provider; without an endpoint spans exist but go nowhere."""
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: settings.service_name}), sampler=ALWAYS_ON
    )
    if settings.otlp_traces_endpoint:
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=settings.otlp_traces_endpoint, timeout=5),
                schedule_delay_millis=500,
            )
        )
    trace.set_tracer_provider(provider)
    return provider


def instrument_libraries() -> None:
    """psycopg and httpx spans; call before the pool and the client make connections."""
    PsycopgInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()


def instrument_app(app: Flask) -> None:
    """Server spans for every request except probes and scrapes."""
    FlaskInstrumentor().instrument_app(  # type: ignore[no-untyped-call] # the instrumentation ships no annotations
        app, request_hook=_tag_run_id, excluded_urls=UNTRACED_URLS
    )


def _tag_run_id(span: Span, environ: dict[str, Any]) -> None:
    run_id = parse_run_id(environ.get("HTTP_X_CHAOSLAB_RUN"))
    if run_id is not None and span.is_recording():
        span.set_attribute(RUN_ID_ATTRIBUTE, run_id)
