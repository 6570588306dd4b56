"""Per-request context, golden-signal metrics, access log and body-size limit.

A plain ASGI middleware (no ``BaseHTTPMiddleware``, so contextvars and
streaming behave). It sits inside OpenTelemetry's server span, so the span
is current while the request runs.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence

import sentry_sdk
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from target_app.logs import get_logger
from target_app.metrics import EXCEPTIONS, HTTP_IN_PROGRESS, HTTP_LATENCY, HTTP_REQUESTS
from target_app.tracing import REQUEST_ID_ATTRIBUTE, RUN_ID_ATTRIBUTE, with_run_id

REQUEST_ID_HEADER = "x-request-id"
RUN_ID_HEADER = "x-chaoslab-run"
SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED_ROUTE = "unmatched"
QUIET_ROUTES = frozenset({"/metrics", "/liveness", "/readiness", "/startup"})
#: The lab's own control plane: not the service's traffic, so neither counted nor logged
#: (a game-day responder reading the logs or metrics must not see a fault being switched on).
LAB_ROUTES = frozenset({"/admin/chaos"})

log = get_logger("target_app.http")


class BodyTooLarge(Exception):
    """The request body passed the configured limit while streaming in."""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """The path template of the route that will serve ``scope`` (bounded cardinality)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            path: str | None = getattr(route, "path", None)
            return path or UNMATCHED_ROUTE
    return UNMATCHED_ROUTE


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], max_body_bytes: int) -> None:
        self.app = app
        self.routes = routes
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        supplied = _header(scope, b"x-request-id")
        request_id = supplied if supplied and SAFE_ID.match(supplied) else uuid.uuid4().hex
        run_id_raw = _header(scope, b"x-chaoslab-run")
        run_id = run_id_raw if run_id_raw and SAFE_ID.match(run_id_raw) else None
        method: str = scope["method"]
        route = route_template(self.routes, scope)
        if route in LAB_ROUTES:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["request_id"] = request_id

        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self._reject_too_large(send, request_id)
            self._record(method, route, 413, 0.0, request_id, scope)
            return

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        span = trace.get_current_span()
        span.set_attribute(REQUEST_ID_ATTRIBUTE, request_id)
        sentry_scope = sentry_sdk.get_isolation_scope()
        sentry_scope.set_tag("request_id", request_id)
        token = None
        if run_id is not None:
            structlog.contextvars.bind_contextvars(run_id=run_id)
            span.set_attribute(RUN_ID_ATTRIBUTE, run_id)
            sentry_scope.set_tag("run_id", run_id)
            token = otel_context.attach(with_run_id(run_id))

        status = 500
        response_started = False
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        in_progress = HTTP_IN_PROGRESS.labels(method=method, route=route)
        in_progress.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, counting_receive, send_with_id)
        except BodyTooLarge:
            if not response_started:
                await self._reject_too_large(send, request_id)
            status = 413
        except Exception as exc:
            status = 500
            EXCEPTIONS.labels(type=type(exc).__name__).inc()
            log.error("request.failed", error=type(exc).__name__, exc_info=exc)
            raise
        finally:
            in_progress.dec()
            self._record(method, route, status, time.perf_counter() - started, request_id, scope)
            if token is not None:
                otel_context.detach(token)
            structlog.contextvars.clear_contextvars()

    def _record(
        self, method: str, route: str, status: int, seconds: float, request_id: str, scope: Scope
    ) -> None:
        HTTP_REQUESTS.labels(method=method, route=route, status=str(status)).inc()
        HTTP_LATENCY.labels(method=method, route=route).observe(seconds)
        if route in QUIET_ROUTES and status < 400:
            return
        log.info(
            "http.request",
            method=method,
            route=route,
            path=scope.get("path"),
            status=status,
            duration_ms=round(seconds * 1000, 2),
        )

    @staticmethod
    async def _reject_too_large(send: Send, request_id: str) -> None:
        body = b'{"detail":"request body too large","error":"BodyTooLarge"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
