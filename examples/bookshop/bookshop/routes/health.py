"""``/healthz`` (liveness, no dependency), ``/readyz`` (PostgreSQL and pricing) and ``/metrics``."""

from __future__ import annotations

from flask import Blueprint, Response
from opentelemetry.instrumentation.utils import suppress_instrumentation
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bookshop.exceptions import DatabaseUnavailable
from bookshop.services import services

health = Blueprint("health", __name__)


@health.get("/healthz")
def healthz() -> dict[str, object]:
    return {"status": "ok"}


@health.get("/readyz")
def readyz() -> tuple[dict[str, object], int]:
    backends = services()
    # Probes are not traced (see telemetry.UNTRACED_URLS): no orphan DB/HTTP spans either.
    with suppress_instrumentation():
        try:
            backends.db.ping()
            database_error = None
        except DatabaseUnavailable as exc:
            database_error = exc.error
        pricing_error = backends.pricing.check()
    checks = {
        "database": {"ok": database_error is None, "error": database_error},
        "pricing": {"ok": pricing_error is None, "error": pricing_error},
    }
    ready = database_error is None and pricing_error is None
    return {"status": "ready" if ready else "unavailable", "checks": checks}, (
        200 if ready else 503
    )


@health.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), mimetype=None, content_type=CONTENT_TYPE_LATEST)
