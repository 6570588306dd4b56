"""OTLP/HTTP trace export: request decoding and response encoding.

Two encodings are accepted, as the OTLP specification defines them:

* ``application/x-protobuf``: a binary ``ExportTraceServiceRequest``;
* ``application/json``: the OTLP JSON mapping, which is the proto3 JSON mapping
  except that ``traceId``/``spanId``/``parentSpanId`` are hex strings (not
  base64), enums may be integers and unknown fields are ignored.

Either may be ``Content-Encoding: gzip`` or ``deflate``. Spans whose IDs are
malformed are rejected one by one and reported through ``partial_success``;
a body that cannot be decoded at all raises :class:`OtlpDecodeError`.
"""

from __future__ import annotations

import base64
import enum
import json
import math
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf import json_format  # type: ignore[import-untyped]  # no types-protobuf stubs in the lockfile
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]  # no types-protobuf stubs in the lockfile
from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]  # googleapis-common-protos ships no stubs
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from stack.tracestore.exceptions import OtlpDecodeError, UnsupportedMediaType
from stack.tracestore.gotext import JsonValue, float_text, json_text
from stack.tracestore.model import (
    UNKNOWN_SERVICE,
    Attribute,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
    StoredSpan,
)

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Largest request body accepted, after decompression."""

_GRPC_INVALID_ARGUMENT = 3
_TRACE_ID_BYTES = 16
_SPAN_ID_BYTES = 8
# OTLP span flags: the low 8 bits are the W3C trace flags, higher bits are OTLP-only.
_TRACE_FLAGS_MASK = 0xFF

_E = TypeVar("_E", bound=enum.IntEnum)


class Encoding(enum.Enum):
    """The two OTLP/HTTP payload encodings."""

    PROTOBUF = "application/x-protobuf"
    JSON = "application/json"

    @classmethod
    def from_content_type(cls, content_type: str | None) -> Encoding:
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        for encoding in cls:
            if encoding.value == media_type:
                return encoding
        raise UnsupportedMediaType(
            f"unsupported Content-Type {content_type!r}: "
            f"send {cls.PROTOBUF.value} or {cls.JSON.value}"
        )


@dataclass(frozen=True, slots=True)
class DecodedExport:
    """The spans of one export request, and those that had to be rejected."""

    spans: tuple[StoredSpan, ...]
    rejected: int = 0
    rejection_reason: str = ""


def decompress(body: bytes, content_encoding: str | None) -> bytes:
    """Undo ``Content-Encoding`` (identity, gzip or deflate), bounded by MAX_BODY_BYTES."""
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding == "gzip":
        wbits = 16 + zlib.MAX_WBITS
    elif coding == "deflate":
        wbits = zlib.MAX_WBITS
    else:
        raise OtlpDecodeError(f"unsupported Content-Encoding {content_encoding!r}: use gzip")
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise OtlpDecodeError(f"body is not valid {coding} data: {exc}") from exc
    if len(data) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise OtlpDecodeError(f"decompressed body exceeds {MAX_BODY_BYTES} bytes")
    return data


def decode_export(
    body: bytes, content_type: str | None, content_encoding: str | None = None
) -> DecodedExport:
    """Decode one ``POST /v1/traces`` body into stored spans."""
    encoding = Encoding.from_content_type(content_type)
    raw = decompress(body, content_encoding)
    request = _parse_protobuf(raw) if encoding is Encoding.PROTOBUF else _parse_json(raw)
    return _spans_of(request)


def encode_response(encoding: Encoding, decoded: DecodedExport) -> bytes:
    """An ExportTraceServiceResponse (with partial_success when spans were rejected)."""
    response = ExportTraceServiceResponse()
    if decoded.rejected:
        response.partial_success.rejected_spans = decoded.rejected
        response.partial_success.error_message = decoded.rejection_reason
    if encoding is Encoding.PROTOBUF:
        data: bytes = response.SerializeToString()
        return data
    return json.dumps(json_format.MessageToDict(response)).encode()


def encode_status(encoding: Encoding | None, message: str) -> tuple[bytes, str]:
    """A ``google.rpc.Status`` error body and its media type (JSON when the encoding is unknown)."""
    if encoding is Encoding.PROTOBUF:
        status = Status(code=_GRPC_INVALID_ARGUMENT, message=message)
        return status.SerializeToString(), Encoding.PROTOBUF.value
    body = json.dumps({"code": _GRPC_INVALID_ARGUMENT, "message": message})
    return body.encode(), Encoding.JSON.value


def _parse_protobuf(raw: bytes) -> Any:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(raw)
    except DecodeError as exc:
        raise OtlpDecodeError(f"body is not a protobuf ExportTraceServiceRequest: {exc}") from exc
    return request


def _parse_json(raw: bytes) -> Any:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OtlpDecodeError(f"body is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise OtlpDecodeError("body is not an OTLP JSON ExportTraceServiceRequest object")
    _hex_ids_to_base64(document)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise OtlpDecodeError(f"body is not an OTLP JSON ExportTraceServiceRequest: {exc}") from exc
    return request


_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id")


def _hex_ids_to_base64(document: dict[str, Any]) -> None:
    """Rewrite OTLP JSON's hex IDs in place into the base64 proto3 JSON expects for bytes."""
    for resource_spans in _objects(document, "resourceSpans", "resource_spans"):
        for scope_spans in _objects(resource_spans, "scopeSpans", "scope_spans"):
            for span in _objects(scope_spans, "spans"):
                _convert_ids(span)
                for link in _objects(span, "links"):
                    _convert_ids(link)


def _objects(parent: dict[str, Any], *keys: str) -> Iterable[dict[str, Any]]:
    for key in keys:
        items = parent.get(key)
        if isinstance(items, list):
            yield from (item for item in items if isinstance(item, dict))


def _convert_ids(obj: dict[str, Any]) -> None:
    for key in _ID_KEYS:
        value = obj.get(key)
        if not isinstance(value, str):
            continue
        try:
            obj[key] = base64.b64encode(bytes.fromhex(value)).decode()
        except ValueError as exc:
            raise OtlpDecodeError(f"{key} {value!r} is not a hex string") from exc


def _spans_of(request: Any) -> DecodedExport:
    spans: list[StoredSpan] = []
    rejected = 0
    reason = ""
    for resource_spans in request.resource_spans:
        resource_attributes = attributes_of(resource_spans.resource.attributes)
        service = next(
            (
                attr.value
                for attr in resource_attributes
                if attr.key == "service.name" and isinstance(attr.value, str) and attr.value
            ),
            UNKNOWN_SERVICE,
        )
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope
            for span in scope_spans.spans:
                problem = _id_problem(span)
                if problem:
                    rejected += 1
                    reason = problem
                    continue
                spans.append(
                    StoredSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex(),
                        service=str(service),
                        operation=str(span.name),
                        kind=_enum_or(SpanKind, span.kind, SpanKind.UNSPECIFIED),
                        start_ns=int(span.start_time_unix_nano),
                        end_ns=int(span.end_time_unix_nano),
                        status_code=_enum_or(StatusCode, span.status.code, StatusCode.UNSET),
                        status_message=str(span.status.message),
                        attributes=attributes_of(span.attributes),
                        resource_attributes=resource_attributes,
                        events=tuple(
                            SpanEvent(
                                name=str(event.name),
                                time_ns=int(event.time_unix_nano),
                                attributes=attributes_of(event.attributes),
                            )
                            for event in span.events
                        ),
                        links=tuple(
                            SpanLink(trace_id=link.trace_id.hex(), span_id=link.span_id.hex())
                            for link in span.links
                            if len(link.trace_id) == _TRACE_ID_BYTES
                            and len(link.span_id) == _SPAN_ID_BYTES
                        ),
                        flags=int(span.flags) & _TRACE_FLAGS_MASK,
                        scope_name=str(scope.name),
                        scope_version=str(scope.version),
                    )
                )
    return DecodedExport(spans=tuple(spans), rejected=rejected, rejection_reason=reason)


def _id_problem(span: Any) -> str:
    if len(span.trace_id) != _TRACE_ID_BYTES or not any(span.trace_id):
        return f"span {span.name!r}: traceId must be {_TRACE_ID_BYTES} bytes, not all zero"
    if len(span.span_id) != _SPAN_ID_BYTES or not any(span.span_id):
        return f"span {span.name!r}: spanId must be {_SPAN_ID_BYTES} bytes, not all zero"
    if len(span.parent_span_id) not in (0, _SPAN_ID_BYTES):
        return f"span {span.name!r}: parentSpanId must be empty or {_SPAN_ID_BYTES} bytes"
    return ""


def _enum_or(kind: type[_E], value: int, default: _E) -> _E:
    try:
        return kind(value)
    except ValueError:
        return default


def attributes_of(key_values: Iterable[Any]) -> tuple[Attribute, ...]:
    """Typed attributes from OTLP ``KeyValue`` messages."""
    return tuple(_attribute(str(kv.key), kv.value) for kv in key_values)


def _attribute(key: str, any_value: Any) -> Attribute:
    which = any_value.WhichOneof("value")
    if which == "bool_value":
        return Attribute(key, "bool", bool(any_value.bool_value))
    if which == "int_value":
        return Attribute(key, "int64", int(any_value.int_value))
    if which == "double_value":
        number = float(any_value.double_value)
        if math.isfinite(number):
            return Attribute(key, "float64", number)
        # JSON has no NaN or infinity: keep the text Jaeger's tag search compares.
        return Attribute(key, "string", float_text(number))
    if which == "bytes_value":
        return Attribute(key, "binary", base64.b64encode(any_value.bytes_value).decode())
    if which in ("array_value", "kvlist_value"):
        return Attribute(key, "string", _json_of(any_value))
    return Attribute(key, "string", str(any_value.string_value))


def _json_of(any_value: Any) -> str:
    """An array or map as pdata's ``Value.AsString``: Go JSON, "" when it cannot encode."""
    try:
        return json_text(_plain(any_value))
    except ValueError:  # a NaN or infinity inside: Go's encoder fails, AsString is empty
        return ""


def _plain(any_value: Any) -> JsonValue:
    """An OTLP AnyValue as plain Python, as pdata's ``AsRaw`` (bytes in base64, as Go's JSON)."""
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return [_plain(item) for item in any_value.array_value.values]
    if which == "kvlist_value":
        return {str(kv.key): _plain(kv.value) for kv in any_value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(any_value.bytes_value).decode()
    if which == "bool_value":
        return bool(any_value.bool_value)
    if which == "int_value":
        return int(any_value.int_value)
    if which == "double_value":
        return float(any_value.double_value)
    if which == "string_value":
        return str(any_value.string_value)
    return None


__all__ = [
    "MAX_BODY_BYTES",
    "DecodedExport",
    "Encoding",
    "attributes_of",
    "decode_export",
    "decompress",
    "encode_response",
    "encode_status",
]
