"""The document service: wiring only (routes, telemetry, lifespan)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider

from target_app import handlers
from target_app.chaos import Chaos
from target_app.config import Settings
from target_app.db import Database
from target_app.documents import DocumentService
from target_app.downstream import ClassifierClient
from target_app.errors import configure_sentry
from target_app.exceptions import DatabaseError
from target_app.logs import configure_logging, get_logger
from target_app.metrics import REGISTRY, PoolCollector
from target_app.middleware import RequestContextMiddleware
from target_app.routes import admin, documents, health
from target_app.tracing import build_tracer_provider

VERSION = "0.1.0"
UNTRACED = "liveness,readiness,startup,metrics,admin/chaos"
log = get_logger("target_app.main")


async def _schema_until_ready(db: Database) -> None:
    """Create the schema, retrying while PostgreSQL is unreachable."""
    delay = 0.5
    while True:
        try:
            await db.ensure_schema()
            log.info("schema.ready")
            return
        except DatabaseError as exc:
            log.warning("schema.retry", error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(
        settings.service_name,
        VERSION,
        settings.environment,
        settings.log_file,
        settings.log_level,
    )
    configure_sentry(
        settings.sentry_dsn, settings.release, settings.environment, settings.sentry_queue_size
    )
    provider = build_tracer_provider(
        settings.service_name,
        VERSION,
        settings.environment,
        settings.otlp_endpoint,
        settings.sampling_ratio,
    )
    install_tracer_provider(provider)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            settings.dsn,
            settings.pool_min,
            settings.pool_max,
            settings.pool_acquire_timeout_s,
            settings.statement_timeout_ms,
            settings.connect_timeout_s,
        )
        await db.connect()
        classifier = ClassifierClient(settings.downstream_url, settings.downstream_timeout_s)
        collector = PoolCollector(db.snapshot)
        REGISTRY.register(collector)
        app.state.settings = settings
        app.state.db = db
        app.state.classifier = classifier
        app.state.chaos = Chaos(settings.chaos_seed)
        app.state.documents = DocumentService(db, classifier, app.state.chaos)
        schema = asyncio.create_task(_schema_until_ready(db))
        log.info(
            "service.started",
            pool_max=settings.pool_max,
            downstream=settings.downstream_url,
            chaos_api=settings.chaos_token is not None,
        )
        try:
            yield
        finally:
            schema.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await schema
            REGISTRY.unregister(collector)
            await classifier.close()
            await db.close()
            provider.shutdown()
            log.info("service.stopped")

    app = FastAPI(
        title="chaoslab target: document service",
        version=VERSION,
        lifespan=lifespan,
    )
    routers = [documents.router, health.router]
    if settings.chaos_token:
        routers.append(admin.router)
    for router in routers:
        app.include_router(router)
    handlers.install(app)
    app.add_middleware(
        RequestContextMiddleware,
        # The routers' own routes carry full path templates (prefix included),
        # which is what metric labels need.
        routes=[route for router in routers for route in router.routes],
        max_body_bytes=settings.max_body_bytes,
    )
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls=UNTRACED, exclude_spans=["receive", "send"]
    )
    AsyncPGInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call] # untyped upstream
    app.state.tracer_provider = provider
    return app


def install_tracer_provider(provider: TracerProvider) -> None:
    """Make ``provider`` the process-wide one (custom spans and httpx use it)."""
    trace.set_tracer_provider(provider)
