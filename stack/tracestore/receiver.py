"""``POST /v1/traces``: the OTLP/HTTP trace receiver.

Answers as the OTLP/HTTP specification says: 200 with an
``ExportTraceServiceResponse`` in the request's encoding (``partial_success``
set when some spans had malformed IDs), 400 with a ``google.rpc.Status`` for
a body that cannot be decoded, 413 for a body over the size limit, 415 for a
content type other than protobuf or JSON, and 503 with ``Retry-After`` when
the write queue is full (OTLP exporters retry 503).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from stack.tracestore.dependencies import StoreDep
from stack.tracestore.exceptions import OtlpDecodeError, StoreOverloaded, UnsupportedMediaType
from stack.tracestore.otlp import (
    MAX_BODY_BYTES,
    Encoding,
    decode_export,
    encode_response,
    encode_status,
)

router = APIRouter()

RETRY_AFTER_S = 1


def _status(code: int, encoding: Encoding | None, message: str) -> Response:
    body, media_type = encode_status(encoding, message)
    return Response(body, status_code=code, media_type=media_type)


async def _read_body(request: Request) -> bytes | None:
    """The raw body, or None when it is larger than MAX_BODY_BYTES."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/v1/traces")
async def export_traces(request: Request, store: StoreDep) -> Response:
    content_type = request.headers.get("content-type")
    try:
        encoding = Encoding.from_content_type(content_type)
    except UnsupportedMediaType as exc:
        return _status(415, None, str(exc))
    body = await _read_body(request)
    if body is None:
        return _status(413, encoding, f"request body exceeds {MAX_BODY_BYTES} bytes")
    try:
        decoded = await run_in_threadpool(
            decode_export, body, content_type, request.headers.get("content-encoding")
        )
    except OtlpDecodeError as exc:
        return _status(400, encoding, str(exc))
    try:
        await store.write_async(decoded.spans)
    except StoreOverloaded as exc:
        response = _status(503, encoding, f"trace store overloaded, retry later: {exc}")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    return Response(encode_response(encoding, decoded), media_type=encoding.value)
