"""Sentry error tracking: scrubbing, grouping fingerprints, run id and trace id.

Disabled cleanly (no client, no transport thread) when no DSN is configured.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import sentry_sdk
from sentry_sdk.integrations.fastapi import FastApiIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.starlette import StarletteIntegration
from sentry_sdk.types import Event, Hint

from target_app.exceptions import (
    ChaosError,
    DatabaseUnavailable,
    DownstreamTimeout,
    PoolTimeout,
)
from target_app.pii import mask_value
from target_app.tracing import current_trace_id

FINGERPRINT_POOL_TIMEOUT = ["db-pool-timeout"]
FINGERPRINT_DB_CONNECTION = ["db-connection-error"]
FINGERPRINT_DOWNSTREAM_TIMEOUT = ["downstream-timeout"]

_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    ConnectionError,
)


def fingerprint_for(exc: BaseException) -> list[str] | None:
    """The grouping key for the failure modes that must be one issue whatever their message."""
    if isinstance(exc, PoolTimeout):
        return FINGERPRINT_POOL_TIMEOUT
    if isinstance(exc, DownstreamTimeout):
        return FINGERPRINT_DOWNSTREAM_TIMEOUT
    if isinstance(exc, _CONNECTION_ERRORS):
        return FINGERPRINT_DB_CONNECTION
    if isinstance(exc, ChaosError):
        return ["chaos-exception", type(exc).__name__]
    return None


def scrub_event(event: Event, hint: Hint) -> Event | None:
    """``before_send``: mask PII everywhere, set the fingerprint and the trace id."""
    exc_info = hint.get("exc_info")
    if exc_info is not None:
        fingerprint = fingerprint_for(exc_info[1])
        if fingerprint is not None:
            event["fingerprint"] = fingerprint
    trace_id = current_trace_id()
    if trace_id is not None:
        event.setdefault("tags", {})["trace_id"] = trace_id
        contexts: dict[str, Any] = event.setdefault("contexts", {})
        contexts.setdefault("trace", {})["trace_id"] = trace_id
    for key in ("request", "extra", "user", "breadcrumbs", "exception", "logentry", "message"):
        if key in event:
            event[key] = mask_value(key, event[key])
    request: dict[str, Any] = event.get("request", {})
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {k: mask_value(k, v) for k, v in headers.items()}
    return event


def configure_sentry(dsn: str | None, release: str, environment: str, queue_size: int) -> bool:
    """Initialise sentry-sdk; returns False (and does nothing) without a DSN."""
    if not dsn:
        return False
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=environment,
        send_default_pii=False,
        traces_sample_rate=0.0,
        max_breadcrumbs=50,
        before_send=scrub_event,
        transport_queue_size=queue_size,
        integrations=[
            StarletteIntegration(failed_request_status_codes={*range(500, 600)}),
            FastApiIntegration(failed_request_status_codes={*range(500, 600)}),
            LoggingIntegration(event_level=None),
        ],
    )
    return True
