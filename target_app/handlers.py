"""Exception handlers: domain errors to HTTP statuses with a JSON body."""

from __future__ import annotations

import json
from typing import Any

import sentry_sdk
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from target_app.exceptions import (
    DatabaseError,
    DocumentNotFound,
    DownstreamError,
    DownstreamTimeout,
    InvalidCursor,
    TargetError,
)
from target_app.logs import get_logger
from target_app.metrics import EXCEPTIONS

log = get_logger("target_app.errors")

STATUS_BY_ERROR: tuple[tuple[type[TargetError], int], ...] = (
    (DocumentNotFound, 404),
    (InvalidCursor, 400),
    (DownstreamTimeout, 504),
    (DownstreamError, 502),
    (DatabaseError, 503),
)


class SafeJSONResponse(JSONResponse):
    """JSON with non-ASCII escaped: a lone surrogate echoed from bad input stays valid."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def status_for(exc: TargetError) -> int:
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return status
    return 500


def _body(request: Request, exc: Exception, detail: object, status: int) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    headers = {"x-request-id": request_id} if request_id else None
    return SafeJSONResponse(
        {"detail": detail, "error": type(exc).__name__, "request_id": request_id},
        status_code=status,
        headers=headers,
    )


async def target_error(request: Request, exc: TargetError) -> JSONResponse:
    status = status_for(exc)
    if status >= 500:
        EXCEPTIONS.labels(type=type(exc).__name__).inc()
        # Sentry's integration only reports handled errors that carry a
        # status_code; ours map to one here, so report them here.
        sentry_sdk.capture_exception(exc)
        log.error("request.error", error=type(exc).__name__, detail=str(exc), status=status)
    return _body(request, exc, str(exc), status)


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 listing every problem; the offending input is echoed escaped."""
    return _body(request, exc, jsonable_encoder(exc.errors()), 422)


async def unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    """Last resort: a JSON 500 (the middleware already counted and logged it)."""
    return _body(request, exc, "internal server error", 500)


def install(app: FastAPI) -> None:
    """Register the handlers; Starlette dispatches each by the raised type's MRO.

    ``exception_handler`` (unlike ``add_exception_handler``, typed for a plain
    ``Exception``) accepts a handler whose ``exc`` is the registered subtype.
    """
    app.exception_handler(TargetError)(target_error)
    app.exception_handler(RequestValidationError)(validation_error)
    app.exception_handler(Exception)(unhandled_error)
