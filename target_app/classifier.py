"""The downstream classifier: a small traced FastAPI service the target calls.

Latency, jitter and error rate come from the environment (``CLASSIFIER_``),
so a scenario can make the dependency slow or flaky without touching code.
"""

from __future__ import annotations

import asyncio
import hashlib
import random

import structlog
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from target_app.config import ClassifierSettings
from target_app.logs import configure_logging, get_logger
from target_app.metrics import render
from target_app.models import Classification, ClassifyRequest, HealthReport
from target_app.tracing import RUN_ID_ATTRIBUTE, build_tracer_provider, run_id_from_baggage

VERSION = "0.1.0"
LABELS = ("invoice", "contract", "report", "letter", "receipt", "memo")
log = get_logger("target_app.classifier")
tracer = trace.get_tracer("target_app.classifier")


def label_for(title: str, body: str) -> Classification:
    """A deterministic stand-in for a model: the same text always gets the same label."""
    digest = hashlib.sha256(f"{title}\n{body}".encode()).digest()
    return Classification(label=LABELS[digest[0] % len(LABELS)], confidence=0.5 + digest[1] / 510)


def create_classifier_app(settings: ClassifierSettings | None = None) -> FastAPI:
    settings = settings or ClassifierSettings()
    configure_logging(
        settings.service_name, VERSION, settings.environment, settings.log_file, settings.log_level
    )
    provider = build_tracer_provider(
        settings.service_name,
        VERSION,
        settings.environment,
        settings.otlp_endpoint,
        settings.sampling_ratio,
    )
    trace.set_tracer_provider(provider)
    rng = random.Random(settings.seed)  # noqa: S311 - simulated latency and failures, not security
    app = FastAPI(title="chaoslab classifier", version=VERSION)

    @app.post("/classify")
    async def classify(payload: ClassifyRequest) -> Classification:
        run_id = run_id_from_baggage()
        span = trace.get_current_span()
        if run_id is not None:
            span.set_attribute(RUN_ID_ATTRIBUTE, run_id)
            structlog.contextvars.bind_contextvars(run_id=run_id)
        with tracer.start_as_current_span("classifier.infer") as infer:
            delay = settings.latency_ms + rng.uniform(-settings.jitter_ms, settings.jitter_ms)
            if delay > 0:
                await asyncio.sleep(delay / 1000)
            if settings.error_rate > 0 and rng.random() < settings.error_rate:
                infer.set_attribute("classifier.failed", True)
                log.warning("classifier.failed", reason="simulated error rate")
                raise HTTPException(status_code=503, detail="classifier overloaded")
            result = label_for(payload.title, payload.body)
            infer.set_attribute("classifier.label", result.label)
        log.info("classifier.classified", label=result.label)
        structlog.contextvars.clear_contextvars()
        return result

    @app.get("/liveness")
    async def liveness() -> HealthReport:
        return HealthReport(status="ok")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="liveness,metrics"
    )
    return app
