"""The Jaeger query API subset (``/api/...``), answered from the span store.

Routes and response envelopes are Jaeger's (``cmd/query/app/http_handler.go``):
``{"data": ..., "total": N, "limit": 0, "offset": 0, "errors": null}``, with
``total`` set for services and operations and left at 0 for traces, as Jaeger
does. Errors are ``{"data": null, ..., "errors": [{"code": C, "msg": "..."}]}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from stack.tracestore.dependencies import ClockDep, StoreDep
from stack.tracestore.exceptions import InvalidQuery
from stack.tracestore.jaeger import (
    JaegerError,
    JaegerOperation,
    JaegerResponse,
    JaegerTrace,
    to_jaeger_trace,
)
from stack.tracestore.model import SpanKind
from stack.tracestore.query import normalize_trace_id, parse_trace_query

router = APIRouter(prefix="/api")

TRACE_NOT_FOUND = "trace not found"


def jaeger_json(response: BaseModel, status_code: int = 200) -> JSONResponse:
    return JSONResponse(response.model_dump(mode="json"), status_code=status_code)


def jaeger_error(status_code: int, message: str) -> JSONResponse:
    """Jaeger's error envelope."""
    response = JaegerResponse[None](data=None, errors=[JaegerError(code=status_code, msg=message)])
    return jaeger_json(response, status_code)


def _span_kind(raw: str) -> SpanKind | None:
    if not raw:
        return None
    for kind in SpanKind:
        if kind is not SpanKind.UNSPECIFIED and kind.jaeger_name == raw.lower():
            return kind
    names = ", ".join(k.jaeger_name for k in SpanKind if k is not SpanKind.UNSPECIFIED)
    raise InvalidQuery(f"unable to parse param 'spanKind': {raw!r} is not one of {names}")


@router.get("/services")
def get_services(store: StoreDep) -> JSONResponse:
    services = store.services()
    return jaeger_json(JaegerResponse[list[str]](data=services, total=len(services)))


@router.get("/services/{service}/operations")
def get_operations_legacy(service: str, store: StoreDep) -> JSONResponse:
    names = list(dict.fromkeys(name for name, _ in store.operations(service)))
    return jaeger_json(JaegerResponse[list[str]](data=names, total=len(names)))


@router.get("/operations")
def get_operations(
    store: StoreDep,
    service: str = "",
    span_kind: Annotated[str, Query(alias="spanKind")] = "",
) -> JSONResponse:
    if not service:
        raise InvalidQuery("parameter 'service' is required")
    operations = [
        JaegerOperation(name=name, spanKind=kind.jaeger_name)
        for name, kind in store.operations(service, _span_kind(span_kind))
    ]
    return jaeger_json(
        JaegerResponse[list[JaegerOperation]](data=operations, total=len(operations))
    )


@router.get("/traces")
def search_traces(request: Request, store: StoreDep, clock: ClockDep) -> JSONResponse:
    params = {name: request.query_params.getlist(name) for name in request.query_params}
    query = parse_trace_query(params, clock())
    trace_ids = store.find_trace_ids(query)
    found = store.traces(trace_ids)
    traces = [to_jaeger_trace(trace_id, spans) for trace_id, spans in found.items()]
    errors = [
        JaegerError(msg=TRACE_NOT_FOUND, traceID=trace_id)
        for trace_id in query.trace_ids
        if trace_id not in found
    ]
    return jaeger_json(JaegerResponse[list[JaegerTrace]](data=traces, errors=errors or None))


@router.get("/traces/{trace_id}")
def get_trace(trace_id: str, store: StoreDep) -> JSONResponse:
    normalized = normalize_trace_id(trace_id)
    spans = store.traces([normalized]).get(normalized)
    if not spans:
        return jaeger_error(404, TRACE_NOT_FOUND)
    trace = to_jaeger_trace(normalized, spans)
    return jaeger_json(JaegerResponse[list[JaegerTrace]](data=[trace]))
