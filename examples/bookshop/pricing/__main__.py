"""``python -m pricing --host 127.0.0.1 --port 9001``, on waitress (see bookshop/__main__.py).

Environment: ``PRICING_LATENCY_MS`` (default 5), ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
(full ``/v1/traces`` URL; unset: no export). Spans carry ``service.name=pricing``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from types import FrameType

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from waitress.server import create_server

from pricing.app import create_app

log = logging.getLogger("pricing")


def configure_tracing(endpoint: str) -> TracerProvider:
    # The name is fixed: an OTEL_SERVICE_NAME meant for the bookshop must not rename us.
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: "pricing"}), sampler=ALWAYS_ON
    )
    if endpoint:
        provider.add_span_processor(
            BatchSpanProcessor(
                OTLPSpanExporter(endpoint=endpoint, timeout=5), schedule_delay_millis=500
            )
        )
    trace.set_tracer_provider(provider)
    return provider


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pricing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9001, help="port to bind (default 9001)")
    parser.add_argument("--threads", type=int, default=16, help="request threads (default 16)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        latency_ms = float(os.environ.get("PRICING_LATENCY_MS", "5") or "5")
    except ValueError:
        print("pricing: PRICING_LATENCY_MS must be a number", file=sys.stderr)
        return 2
    provider = configure_tracing(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip())
    app = create_app(latency_ms)
    FlaskInstrumentor().instrument_app(app, excluded_urls=r"/healthz$")  # type: ignore[no-untyped-call] # the instrumentation ships no annotations
    server = create_server(
        app, host=args.host, port=args.port, threads=args.threads, ident="pricing"
    )
    signal.signal(signal.SIGTERM, _stop)
    log.info("pricing.started on %s:%s (latency %s ms)", args.host, args.port, latency_ms)
    try:
        server.run()
    finally:
        provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
