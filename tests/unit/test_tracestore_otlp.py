"""OTLP/HTTP decoding: protobuf and JSON requests become the same stored spans."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from stack.tracestore import otlp
from stack.tracestore.exceptions import OtlpDecodeError, UnsupportedMediaType
from stack.tracestore.model import (
    Attribute,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
    StoredSpan,
)
from stack.tracestore.otlp import Encoding, decode_export, encode_response, encode_status

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
PARENT_ID = "0102030405060708"
LINKED_TRACE = "0af7651916cd43dd8448eb211c80319c"
LINKED_SPAN = "b7ad6b7169203331"
START = 1_700_000_000_000_000_000

EXPECTED = StoredSpan(
    trace_id=TRACE_ID,
    span_id=SPAN_ID,
    parent_span_id=PARENT_ID,
    service="checkout",
    operation="POST /orders",
    kind=SpanKind.SERVER,
    start_ns=START,
    end_ns=START + 250_000_000,
    status_code=StatusCode.ERROR,
    status_message="pool exhausted",
    attributes=(
        Attribute("http.status_code", "int64", 503),
        Attribute("http.route", "string", "/orders"),
        Attribute("retry", "bool", True),
        Attribute("ratio", "float64", 0.25),
        Attribute("ids", "string", '["a",7]'),
        Attribute("blob", "binary", "AQI="),
    ),
    resource_attributes=(
        Attribute("service.name", "string", "checkout"),
        Attribute("deployment.environment", "string", "lab"),
    ),
    events=(
        SpanEvent(
            "exception",
            START + 100_000_000,
            (Attribute("exception.type", "string", "TimeoutError"),),
        ),
    ),
    links=(SpanLink(LINKED_TRACE, LINKED_SPAN),),
    flags=1,
    scope_name="chaoslab.tests",
    scope_version="1.0",
)


def _kv(key: str, **value: Any) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def protobuf_request() -> ExportTraceServiceRequest:
    span = Span(
        trace_id=bytes.fromhex(TRACE_ID),
        span_id=bytes.fromhex(SPAN_ID),
        parent_span_id=bytes.fromhex(PARENT_ID),
        name="POST /orders",
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=START,
        end_time_unix_nano=START + 250_000_000,
        # 0x100 is OTLP's "has is_remote" bit: only the W3C trace flags are kept.
        flags=0x101,
        attributes=[
            _kv("http.status_code", int_value=503),
            _kv("http.route", string_value="/orders"),
            _kv("retry", bool_value=True),
            _kv("ratio", double_value=0.25),
            _kv(
                "ids",
                array_value=ArrayValue(values=[AnyValue(string_value="a"), AnyValue(int_value=7)]),
            ),
            _kv("blob", bytes_value=b"\x01\x02"),
        ],
        events=[
            Span.Event(
                name="exception",
                time_unix_nano=START + 100_000_000,
                attributes=[_kv("exception.type", string_value="TimeoutError")],
            )
        ],
        links=[Span.Link(trace_id=bytes.fromhex(LINKED_TRACE), span_id=bytes.fromhex(LINKED_SPAN))],
        status=Status(code=Status.STATUS_CODE_ERROR, message="pool exhausted"),
    )
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(
                    attributes=[
                        _kv("service.name", string_value="checkout"),
                        _kv("deployment.environment", string_value="lab"),
                    ]
                ),
                scope_spans=[
                    ScopeSpans(
                        scope=InstrumentationScope(name="chaoslab.tests", version="1.0"),
                        spans=[span],
                    )
                ],
            )
        ]
    )


def json_request() -> dict[str, Any]:
    """The same export in OTLP JSON: hex IDs, int enums, int64 as strings, an unknown field."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "checkout"}},
                        {"key": "deployment.environment", "value": {"stringValue": "lab"}},
                    ]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "chaoslab.tests", "version": "1.0"},
                        "spans": [
                            {
                                "traceId": TRACE_ID,
                                "spanId": SPAN_ID,
                                "parentSpanId": PARENT_ID,
                                "name": "POST /orders",
                                "kind": 2,
                                "startTimeUnixNano": str(START),
                                "endTimeUnixNano": str(START + 250_000_000),
                                "flags": 257,
                                "attributes": [
                                    {"key": "http.status_code", "value": {"intValue": "503"}},
                                    {"key": "http.route", "value": {"stringValue": "/orders"}},
                                    {"key": "retry", "value": {"boolValue": True}},
                                    {"key": "ratio", "value": {"doubleValue": 0.25}},
                                    {
                                        "key": "ids",
                                        "value": {
                                            "arrayValue": {
                                                "values": [{"stringValue": "a"}, {"intValue": 7}]
                                            }
                                        },
                                    },
                                    {"key": "blob", "value": {"bytesValue": "AQI="}},
                                ],
                                "events": [
                                    {
                                        "name": "exception",
                                        "timeUnixNano": START + 100_000_000,
                                        "attributes": [
                                            {
                                                "key": "exception.type",
                                                "value": {"stringValue": "TimeoutError"},
                                            }
                                        ],
                                    }
                                ],
                                "links": [{"traceId": LINKED_TRACE, "spanId": LINKED_SPAN}],
                                "status": {"code": 2, "message": "pool exhausted"},
                                "someFutureField": {"ignored": True},
                            }
                        ],
                    }
                ],
            }
        ]
    }


def test_protobuf_request_decodes_to_stored_span() -> None:
    decoded = decode_export(protobuf_request().SerializeToString(), PROTOBUF)

    assert decoded.spans == (EXPECTED,)
    assert decoded.rejected == 0


def test_json_request_decodes_to_the_same_span() -> None:
    decoded = decode_export(json.dumps(json_request()).encode(), JSON)

    assert decoded.spans == (EXPECTED,)


def test_json_accepts_enum_names_and_charset_parameter() -> None:
    document = json_request()
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["kind"] = "SPAN_KIND_CLIENT"
    span["status"] = {"code": "STATUS_CODE_OK"}

    (decoded,) = decode_export(
        json.dumps(document).encode(), "application/json; charset=utf-8"
    ).spans

    assert decoded.kind is SpanKind.CLIENT
    assert decoded.status_code is StatusCode.OK


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress)],
)
def test_compressed_bodies_are_inflated(coding: str, compress: Any) -> None:
    body = compress(protobuf_request().SerializeToString())

    assert decode_export(body, PROTOBUF, coding).spans == (EXPECTED,)


def test_missing_service_name_is_unknown_service() -> None:
    request = protobuf_request()
    del request.resource_spans[0].resource.attributes[0]

    (span,) = decode_export(request.SerializeToString(), PROTOBUF).spans

    assert span.service == "unknown_service"


def test_spans_with_malformed_ids_are_rejected_one_by_one() -> None:
    request = protobuf_request()
    spans = request.resource_spans[0].scope_spans[0].spans
    bad = spans.add()
    bad.CopyFrom(spans[0])
    bad.name = "bad"
    bad.span_id = b"\x01\x02"

    decoded = decode_export(request.SerializeToString(), PROTOBUF)

    assert decoded.spans == (EXPECTED,)
    assert decoded.rejected == 1
    assert "spanId" in decoded.rejection_reason


def test_kvlist_and_non_finite_values_become_strings() -> None:
    request = protobuf_request()
    span = request.resource_spans[0].scope_spans[0].spans[0]
    del span.attributes[:]
    span.attributes.extend(
        [
            _kv("map", kvlist_value=KeyValueList(values=[_kv("k", bool_value=False)])),
            _kv("nan", double_value=float("nan")),
        ]
    )

    (decoded,) = decode_export(request.SerializeToString(), PROTOBUF).spans

    assert decoded.attributes == (
        Attribute("map", "string", '{"k":false}'),
        Attribute("nan", "string", "NaN"),
    )


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "message"),
    [
        (b"not a protobuf", PROTOBUF, None, "not a protobuf ExportTraceServiceRequest"),
        (b"{not json", JSON, None, "not JSON"),
        (b"[1, 2]", JSON, None, "not an OTLP JSON"),
        (b'{"resourceSpans": 7}', JSON, None, "not an OTLP JSON"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "xyz"}]}]}]}', JSON, None,
         "not a hex string"),
        (b"\x1f\x8b garbage", PROTOBUF, "gzip", "not valid gzip"),
        (b"{}", JSON, "br", "unsupported Content-Encoding"),
    ],
)  # fmt: skip
def test_garbage_raises_decode_error(
    body: bytes, content_type: str, encoding: str | None, message: str
) -> None:
    with pytest.raises(OtlpDecodeError, match=message):
        decode_export(body, content_type, encoding)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/grpc"])
def test_other_content_types_are_unsupported(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType, match="application/x-protobuf"):
        decode_export(b"{}", content_type)


def test_decompression_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otlp, "MAX_BODY_BYTES", 1_000)

    with pytest.raises(OtlpDecodeError, match="exceeds 1000 bytes"):
        decode_export(gzip.compress(b"\0" * 5_000), PROTOBUF, "gzip")


def test_success_response_is_empty_in_both_encodings() -> None:
    decoded = decode_export(protobuf_request().SerializeToString(), PROTOBUF)

    assert encode_response(Encoding.PROTOBUF, decoded) == b""
    assert json.loads(encode_response(Encoding.JSON, decoded)) == {}


def test_partial_success_reports_rejected_spans() -> None:
    decoded = otlp.DecodedExport(spans=(), rejected=2, rejection_reason="bad ids")

    response = ExportTraceServiceResponse.FromString(encode_response(Encoding.PROTOBUF, decoded))
    as_json = json.loads(encode_response(Encoding.JSON, decoded))

    assert response.partial_success.rejected_spans == 2
    assert as_json == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "bad ids"}}


def test_error_status_carries_the_message() -> None:
    body, media_type = encode_status(Encoding.JSON, "broken")
    assert media_type == JSON
    assert json.loads(body) == {"code": 3, "message": "broken"}

    body, media_type = encode_status(Encoding.PROTOBUF, "broken")
    assert media_type == PROTOBUF
    assert b"broken" in body
