"""The Flask application: routes, per-request context, metrics and error answers.

Error answers are JSON ``{"error": ..., "detail": ...}``:

* a :class:`ClientError` or a werkzeug ``HTTPException`` → its 4xx, nothing sent to Sentry;
* :class:`PricingUnavailable` → 502, :class:`DatabaseUnavailable` → 503: the
  exception is sent to Sentry (one issue per class), the server span is marked
  as an error and a warning/error line is logged;
* anything else → 500, sent to Sentry and logged with its traceback.
"""

from __future__ import annotations

import logging
import time

import sentry_sdk
from flask import Flask, Response, g, request
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode
from werkzeug.exceptions import HTTPException

from bookshop.exceptions import (
    ClientError,
    DatabaseUnavailable,
    DependencyUnavailable,
    PricingUnavailable,
)
from bookshop.logs import RUN_ID_HEADER, current_run_id, endpoint_label, parse_run_id
from bookshop.metrics import REQUEST_LATENCY, REQUESTS, preregister
from bookshop.routes import books, health, orders
from bookshop.services import EXTENSION_KEY, Services

log = logging.getLogger("bookshop")

ErrorAnswer = tuple[dict[str, object], int]


def create_app(backends: Services) -> Flask:
    app = Flask("bookshop")
    app.extensions[EXTENSION_KEY] = backends
    app.json.sort_keys = False  # type: ignore[attr-defined] # DefaultJSONProvider has it
    for blueprint in (books, orders, health):
        app.register_blueprint(blueprint)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
    app.register_error_handler(ClientError, _client_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DependencyUnavailable, _dependency_error)
    app.register_error_handler(Exception, _unexpected_error)
    preregister()
    return app


def _start_request() -> None:
    g.started = time.perf_counter()
    run_id = parse_run_id(request.headers.get(RUN_ID_HEADER))
    g.run_id_token = current_run_id.set(run_id)
    if run_id is not None:
        sentry_sdk.set_tag("run_id", run_id)


def _finish_request(response: Response) -> Response:
    endpoint = endpoint_label()
    if endpoint == "/metrics":
        return response
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    REQUESTS.labels(endpoint=endpoint, code=str(response.status_code)).inc()
    REQUEST_LATENCY.labels(endpoint=endpoint).observe(elapsed)
    if endpoint not in ("/healthz", "/readyz"):
        log.info(
            "request.completed",
            extra={"status": response.status_code, "duration_ms": round(elapsed * 1000, 2)},
        )
    return response


def _end_request(_exc: BaseException | None) -> None:
    token = g.pop("run_id_token", None)
    if token is not None:
        current_run_id.reset(token)


def _client_error(exc: ClientError) -> ErrorAnswer:
    return {"error": type(exc).__name__, "detail": exc.detail}, exc.status_code


def _http_error(exc: HTTPException) -> ErrorAnswer:
    return {"error": exc.name, "detail": exc.description}, exc.code or 500


def _dependency_error(exc: DependencyUnavailable) -> ErrorAnswer:
    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, PricingUnavailable):
        sentry_sdk.capture_exception(
            exc, tags={"pricing.reason": exc.reason}, fingerprint=["PricingUnavailable"]
        )
        log.warning("pricing.unavailable", extra={"reason": exc.reason, "error": exc.error})
    elif isinstance(exc, DatabaseUnavailable):
        sentry_sdk.capture_exception(
            exc, tags={"db.operation": exc.operation}, fingerprint=["DatabaseUnavailable"]
        )
        log.error("database.unavailable", extra={"operation": exc.operation, "error": exc.error})
    return {"error": type(exc).__name__, "detail": str(exc)}, exc.status_code


def _unexpected_error(exc: Exception) -> ErrorAnswer:
    span = trace.get_current_span()
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    sentry_sdk.capture_exception(exc)
    log.error("request.failed", exc_info=exc)
    return {"error": "InternalServerError", "detail": "unexpected error"}, 500
