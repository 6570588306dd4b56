"""OpenTelemetry tracing: provider, OTLP/HTTP export, instrumentation, run id."""

from __future__ import annotations

from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

RUN_ID_ATTRIBUTE = "chaoslab.run_id"
RUN_ID_BAGGAGE = "chaoslab.run_id"
REQUEST_ID_ATTRIBUTE = "http.request_id"


def build_tracer_provider(
    service: str,
    version: str,
    environment: str,
    otlp_endpoint: str | None,
    sampling_ratio: float,
) -> TracerProvider:
    """A provider with resource attributes, parent-based ratio sampling and batch export.

    ``otlp_endpoint`` is the collector base URL (``http://127.0.0.1:4318``) or
    the full ``…/v1/traces`` URL; without it spans are still created (logs
    carry trace ids) but not exported.
    """
    resource = Resource.create(
        {
            "service.name": service,
            "service.version": version,
            "deployment.environment": environment,
            "deployment.environment.name": environment,
        }
    )
    provider = TracerProvider(
        resource=resource, sampler=ParentBased(TraceIdRatioBased(sampling_ratio))
    )
    if otlp_endpoint:
        endpoint = otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=endpoint, timeout=5),
                max_queue_size=8192,
                schedule_delay_millis=500,
            )
        )
    return provider


def current_trace_id() -> str | None:
    """Hex trace id of the active span, or None outside any span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def with_run_id(run_id: str, context: Context | None = None) -> Context:
    """A context carrying ``run_id`` as baggage, so it reaches downstream services."""
    return baggage.set_baggage(RUN_ID_BAGGAGE, run_id, context)


def run_id_from_baggage(context: Context | None = None) -> str | None:
    value = baggage.get_baggage(RUN_ID_BAGGAGE, context)
    return str(value) if value is not None else None
