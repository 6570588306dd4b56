"""The trace store's pages for humans: search and waterfall over spans received as OTLP."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from tests.unit.tracestore_client import PROTOBUF, store_client

T0 = 1_700_000_000_000_000_000  # ns: 2023-11-14T22:13:20Z
MS = 1_000_000
SECOND = 1_000 * MS
TRACE_A = "a" * 32  # checkout POST /orders → payments charge (error) → db; + render; at T0
TRACE_B = "b" * 32  # checkout GET /health, 5 ms, at T0 + 10 s
TRACE_C = "c" * 32  # checkout POST /orders failing fast (error, 500), at T0 + 20 s
SCRIPT = "<script>alert('pwned')</script>"
RENDER = 'render <b>"receipt"</b>'
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}


def otlp_span(
    trace_id: str,
    span_id: str,
    parent: str,
    name: str,
    start_ns: int,
    end_ns: int,
    *,
    attributes: Mapping[str, str | int] | None = None,
    error: str | None = None,
    events: tuple[Span.Event, ...] = (),
) -> Span:
    return Span(
        trace_id=bytes.fromhex(trace_id),
        span_id=bytes.fromhex(span_id),
        parent_span_id=bytes.fromhex(parent),
        name=name,
        kind=Span.SPAN_KIND_SERVER if not parent else Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start_ns,
        end_time_unix_nano=end_ns,
        attributes=[key_value(k, v) for k, v in (attributes or {}).items()],
        status=Status(code=Status.STATUS_CODE_ERROR, message=error) if error else None,
        events=events,
    )


def key_value(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def export(spans_by_service: Mapping[str, list[Span]]) -> bytes:
    """An OTLP/HTTP protobuf body: one resource (``service.name``) per service."""
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[key_value("service.name", service)]),
                scope_spans=[ScopeSpans(spans=spans)],
            )
            for service, spans in spans_by_service.items()
        ]
    )
    body: bytes = request.SerializeToString()
    return body


def id16(prefix: str) -> str:
    return (prefix * 16)[:16]


ROOT, CHARGE, DB, RENDER_ID = id16("a1"), id16("a2"), id16("a3"), id16("a4")
EXCEPTION = Span.Event(
    name="exception",
    time_unix_nano=T0 + 250 * MS,
    attributes=[key_value("exception.type", "CardDeclined")],
)
SPANS = {
    "checkout": [
        otlp_span(
            TRACE_A, ROOT, "", "POST /orders", T0, T0 + 300 * MS,
            attributes={"http.status_code": 502, "note": SCRIPT},
        ),
        otlp_span(TRACE_A, RENDER_ID, ROOT, RENDER, T0 + 100 * MS, T0 + 150 * MS),
        otlp_span(
            TRACE_B, id16("b1"), "", "GET /health", T0 + 10 * SECOND, T0 + 10 * SECOND + 5 * MS,
            attributes={"http.status_code": 200},
        ),
        otlp_span(
            TRACE_C, id16("c1"), "", "POST /orders", T0 + 20 * SECOND, T0 + 20 * SECOND + 50 * MS,
            attributes={"http.status_code": 500}, error="HTTP 500",
        ),
    ],
    "payments": [
        otlp_span(
            TRACE_A, CHARGE, ROOT, "charge", T0 + 10 * MS, T0 + 260 * MS,
            error="card declined", events=(EXCEPTION,),
        ),
        otlp_span(TRACE_A, DB, CHARGE, "db.query", T0 + 200 * MS, T0 + 250 * MS),
    ],
}  # fmt: skip


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with store_client(tmp_path, export(SPANS)) as (_app, test_client):
        yield test_client


# -- reading the pages ----------------------------------------------------------------------


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def find(self, css_class: str) -> Element:
        """The first descendant with ``css_class``."""
        for child in self.children:
            if css_class in child.attrs.get("class", "").split():
                return child
        raise AssertionError(f"no .{css_class} in <{self.tag} {self.attrs}>")


class Collector(HTMLParser):
    """Elements carrying ``attribute``, with their text and their classed descendants."""

    def __init__(self, attribute: str) -> None:
        super().__init__(convert_charrefs=True)
        self.attribute = attribute
        self.found: list[Element] = []
        self._open: list[tuple[str, Element | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {key: value or "" for key, value in attrs})
        if self.attribute in element.attrs:
            self.found.append(element)
        for _, holder in self._open:
            if holder is not None and "class" in element.attrs:
                holder.children.append(element)
        self.handle_data(" ")  # tags separate words, as table cells do on screen
        if tag not in VOID_ELEMENTS:
            self._open.append((tag, element))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass
        self.handle_data(" ")

    def handle_data(self, data: str) -> None:
        for _, element in self._open:
            if element is not None:
                element.text += data


def elements(html: str, attribute: str) -> list[Element]:
    collector = Collector(attribute)
    collector.feed(html)
    return collector.found


def squash(text: str) -> str:
    return " ".join(text.split())


async def search_page(client: httpx.AsyncClient, **params: str) -> httpx.Response:
    if not {"lookback", "start", "end"} & set(params):
        params = {"lookback": "all", **params}  # the spans are from 2023
    response = await client.get("/search", params=params)
    assert response.status_code == 200, response.text
    return response


async def found(client: httpx.AsyncClient, **params: str) -> list[str]:
    """Trace IDs of the result rows, in page order."""
    response = await search_page(client, **params)
    return [row.attrs["data-trace-id"] for row in elements(response.text, "data-trace-id")]


# -- search ---------------------------------------------------------------------------------


async def test_root_redirects_to_search(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.is_redirect
    assert response.headers["location"] == "/search"


async def test_form_lists_stored_services_and_does_not_search_yet(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/search")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    options = [o.attrs["value"] for o in elements(response.text, "value") if o.tag == "option"]
    assert {"checkout", "payments"} <= set(options)
    assert elements(response.text, "data-trace-id") == []


async def test_service_search_lists_root_spans_newest_first_with_links(
    client: httpx.AsyncClient,
) -> None:
    response = await search_page(client, service="checkout")

    rows = {row.attrs["data-trace-id"]: row for row in elements(response.text, "data-trace-id")}
    assert list(rows) == [TRACE_C, TRACE_B, TRACE_A]
    trace_a = rows[TRACE_A]
    assert squash(trace_a.find("svc").text) == "checkout"
    assert squash(trace_a.find("op").text) == "POST /orders"
    assert squash(trace_a.find("tid").text) == TRACE_A
    assert squash(trace_a.find("start").text) == "2023-11-14 22:13:20.000 UTC"
    assert squash(trace_a.find("duration").text) == "300 ms"
    assert squash(trace_a.find("spans").text) == "4"
    assert squash(trace_a.find("errors").text) == "1 error"
    assert squash(trace_a.find("services").text) == "checkout, payments"
    assert trace_a.attrs["data-error"] == "true"
    assert rows[TRACE_B].attrs["data-error"] == "false"
    assert squash(rows[TRACE_B].find("errors").text) == "none"
    links = [
        a.attrs["href"] for a in elements(response.text, "href") if "/trace/" in a.attrs["href"]
    ]
    assert links == [f"/trace/{t}" for t in (TRACE_C, TRACE_B, TRACE_A)]
    assert (await client.get(links[-1])).status_code == 200


async def test_a_trace_found_through_a_child_span_shows_its_root(
    client: httpx.AsyncClient,
) -> None:
    response = await search_page(client, service="payments")

    [row] = elements(response.text, "data-trace-id")
    assert row.attrs["data-trace-id"] == TRACE_A
    assert squash(row.find("svc").text) == "checkout"
    assert squash(row.find("op").text) == "POST /orders"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"operation": "POST /orders"}, [TRACE_C, TRACE_A], id="operation"),
        pytest.param({"operation": "charge"}, [], id="operation-of-another-service"),
        pytest.param({"minDuration": "100ms"}, [TRACE_A], id="min-duration"),
        pytest.param({"minDuration": "40"}, [TRACE_C, TRACE_A], id="min-duration-in-ms"),
        pytest.param({"maxDuration": "0.01s"}, [TRACE_B], id="max-duration"),
        pytest.param({"tags": "http.status_code=500"}, [TRACE_C], id="tag"),
        pytest.param({"tags": '{"http.status_code": "502"}'}, [TRACE_A], id="tags-json"),
        pytest.param({"tags": f'note="{SCRIPT}"'}, [TRACE_A], id="quoted-tag"),
        pytest.param({"tags": "http.status_code=200 missing=1"}, [], id="every-tag"),
        pytest.param({"errors": "1"}, [TRACE_C], id="errors-only"),
        pytest.param({"limit": "2"}, [TRACE_C, TRACE_B], id="limit"),
    ],
)
async def test_search_filters(
    client: httpx.AsyncClient, params: dict[str, str], expected: list[str]
) -> None:
    assert await found(client, service="checkout", **params) == expected


async def test_errors_only_matches_the_failing_span_of_the_service(
    client: httpx.AsyncClient,
) -> None:
    assert await found(client, service="payments", errors="1") == [TRACE_A]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param(
            {"lookback": "custom", "start": "2023-11-14T22:13:25", "end": "2023-11-14T22:13:35"},
            [TRACE_B],
            id="iso-utc",
        ),
        pytest.param(
            {"start": "2023-11-14T23:13:25+01:00", "end": "2023-11-14T23:13:35+01:00"},
            [TRACE_B],
            id="iso-with-offset-implies-custom",
        ),
        pytest.param(
            {"lookback": "custom", "start": str((T0 + 15 * SECOND) // 1_000)},
            [TRACE_C],
            id="unix-micros",
        ),
        pytest.param({"lookback": "1h"}, [], id="last-hour-excludes-2023"),
    ],
)
async def test_time_range(
    client: httpx.AsyncClient, params: dict[str, str], expected: list[str]
) -> None:
    assert await found(client, service="checkout", **params) == expected


async def test_relative_time_ranges_count_back_from_now(
    client: httpx.AsyncClient,
) -> None:
    now = time.time_ns()
    recent, older = "d" * 32, "e" * 32
    spans = {
        "recent": [
            otlp_span(recent, id16("d1"), "", "tick", now - 2 * 60 * SECOND, now - 119 * SECOND),
            otlp_span(older, id16("e1"), "", "tick", now - 30 * 60 * SECOND, now - 1799 * SECOND),
        ]
    }
    posted = await client.post("/v1/traces", content=export(spans), headers=PROTOBUF)
    assert posted.status_code == 200

    assert await found(client, service="recent", lookback="5m") == [recent]
    assert await found(client, service="recent", lookback="1h") == [recent, older]
    default = await client.get("/search", params={"service": "recent"})
    assert [r.attrs["data-trace-id"] for r in elements(default.text, "data-trace-id")] == [
        recent,
        older,
    ]


async def test_reaching_the_limit_is_said(client: httpx.AsyncClient) -> None:
    limited = await search_page(client, service="checkout", limit="3")
    unlimited = await search_page(client, service="checkout", limit="4")

    assert "The limit (3) was reached" in limited.text
    assert "was reached" not in unlimited.text


async def test_no_match_is_said(client: httpx.AsyncClient) -> None:
    response = await search_page(client, service="checkout", operation="nope")

    assert "0 traces" in response.text
    assert "No trace matches" in response.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param({"minDuration": "fast"}, "unable to parse param 'minDuration'", id="min"),
        pytest.param({"maxDuration": "1 second"}, "'maxDuration'", id="max"),
        pytest.param(
            {"minDuration": "2s", "maxDuration": "1s"}, "greater than 'minDuration'", id="order"
        ),
        pytest.param({"minDuration": "9" * 30 + "h"}, "out of range", id="huge-duration"),
        pytest.param({"tags": "error"}, "expecting key=value, got 'error'", id="tag-no-value"),
        pytest.param({"tags": 'a="b'}, "No closing quotation", id="tag-quote"),
        pytest.param({"tags": "{nope"}, "not a JSON object", id="tags-json"),
        pytest.param({"tags": '{"a": 1}'}, "JSON object of strings", id="tags-json-number"),
        pytest.param({"limit": "many"}, "not a whole number", id="limit-text"),
        pytest.param({"limit": "0"}, "between 1 and 1000", id="limit-zero"),
        pytest.param({"lookback": "2y"}, "time range: '2y' is not one of", id="lookback"),
        pytest.param({"lookback": "custom", "start": "yesterday"}, "start:", id="start"),
        pytest.param({"lookback": "custom", "end": "9999-12-31T23:59"}, "out of range", id="end"),
        pytest.param({"service": ""}, "choose a service", id="no-service"),
    ],
)
async def test_invalid_input_is_a_readable_400(
    client: httpx.AsyncClient, params: dict[str, str], message: str
) -> None:
    response = await client.get("/search", params={"service": "checkout", **params})

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    [alert] = elements(response.text, "role")
    assert squash(alert.text).startswith("Cannot search:")
    assert message in squash(alert.text)
    assert elements(response.text, "data-trace-id") == []
    assert 'name="service"' in response.text, "the form is shown again"


# -- waterfall ------------------------------------------------------------------------------


async def trace_rows(client: httpx.AsyncClient, trace_id: str) -> list[Element]:
    response = await client.get(f"/trace/{trace_id}")
    assert response.status_code == 200, response.text
    return elements(response.text, "data-span-id")


def style(element: Element) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in element.attrs["style"].split(";") if item.strip())
    return {key.strip(): value.strip() for key, value in pairs}


def percent(value: str) -> float:
    assert value.endswith("%"), value
    return float(value[:-1])


async def test_waterfall_is_in_tree_order_indented_by_depth(client: httpx.AsyncClient) -> None:
    rows = await trace_rows(client, TRACE_A)

    # By start time it would be root, charge, render (+100 ms), db.query (+200 ms).
    assert [row.attrs["data-span-id"] for row in rows] == [ROOT, CHARGE, DB, RENDER_ID]
    assert [row.attrs["data-depth"] for row in rows] == ["0", "1", "2", "1"]
    assert [style(row.find("name"))["padding-left"] for row in rows] == [
        "0px",
        "16px",
        "32px",
        "16px",
    ]
    assert [squash(row.find("name").text) for row in rows] == [
        "checkout POST /orders",
        "payments charge error",
        "payments db.query",
        f"checkout {RENDER}",
    ]
    assert [squash(row.find("offset").text) for row in rows] == [
        "+0 ms",
        "+10 ms",
        "+200 ms",
        "+100 ms",
    ]
    assert [squash(row.find("duration").text) for row in rows] == [
        "300 ms",
        "250 ms",
        "50 ms",
        "50 ms",
    ]
    # root: 300 - (10..260 + 100..150 overlapping); charge: 250 - (200..250)
    assert [squash(row.find("self").text) for row in rows] == ["50 ms", "200 ms", "50 ms", "50 ms"]


async def test_bars_are_placed_and_sized_relative_to_the_trace(
    client: httpx.AsyncClient,
) -> None:
    rows = await trace_rows(client, TRACE_A)

    bars = [style(row.find("bar")) for row in rows]
    expected = [(0, 300), (10, 250), (200, 50), (100, 50)]  # (start, duration) in ms of 300
    for bar, (start_ms, duration_ms) in zip(bars, expected, strict=True):
        assert percent(bar["left"]) == pytest.approx(start_ms / 300 * 100, abs=0.001)
        assert percent(bar["width"]) == pytest.approx(duration_ms / 300 * 100, abs=0.001)


async def test_error_span_is_highlighted_with_its_details(client: httpx.AsyncClient) -> None:
    rows = {row.attrs["data-span-id"]: row for row in await trace_rows(client, TRACE_A)}

    charge = rows[CHARGE]
    assert charge.tag == "details"
    assert charge.attrs["data-error"] == "true"
    assert "error" in charge.attrs["class"].split()
    assert [r.attrs["data-error"] for r in rows.values()] == ["false", "true", "false", "false"]
    body = squash(charge.find("span-body").text)
    assert "status ERROR: card declined" in body
    assert "exception at +250 ms exception.type CardDeclined string" in body
    assert f"parent {ROOT}" in body
    root_body = squash(rows[ROOT].find("span-body").text)
    assert "http.status_code 502 int64" in root_body
    assert "parent none (root)" in root_body


async def test_trace_header_points_at_the_first_error_and_the_busiest_span(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(f"/trace/{TRACE_A}")

    text = squash(response.text)
    assert f'first error</dt><dd><a href="#span-{CHARGE}">payments: charge</a> — card declined' in (
        text
    )
    assert f'most self time</dt><dd><a href="#span-{CHARGE}">payments: charge</a> (200 ms' in text
    assert '<a href="/search?service=checkout&amp;lookback=all">' in text


async def test_attribute_values_and_names_are_escaped(client: httpx.AsyncClient) -> None:
    trace_page = await client.get(f"/trace/{TRACE_A}")
    search = await search_page(client, service="checkout", tags=f'note="{SCRIPT}"')

    for page in (trace_page.text, search.text):
        assert "<script" not in page.lower()
        assert "<b>" not in page
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in trace_page.text
    assert "render &lt;b&gt;&#34;receipt&#34;&lt;/b&gt;" in trace_page.text
    [root] = [r for r in elements(trace_page.text, "data-span-id") if r.attrs["data-depth"] == "0"]
    assert f"note {SCRIPT} string" in squash(root.text)
    [tags_input] = [e for e in elements(search.text, "name") if e.attrs["name"] == "tags"]
    assert tags_input.attrs["value"] == f'note="{SCRIPT}"'


async def test_pages_allow_no_script_and_no_external_asset(client: httpx.AsyncClient) -> None:
    for path in ("/search", "/search?service=checkout&lookback=all", f"/trace/{TRACE_A}"):
        response = await client.get(path)
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src" not in policy
        assert re.search(r"""(src|href)=["']?(https?:)?//""", response.text) is None


async def test_unknown_trace_is_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/trace/{'f' * 32}")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Trace not found" in response.text
    assert "f" * 32 in response.text


async def test_malformed_trace_id_is_a_400_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/trace/not-hex")

    assert response.status_code == 400
    assert "is not 1-32 hex digits" in response.text


async def test_trace_id_is_normalized_like_jaeger(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/trace/{TRACE_B.upper()}")

    assert response.status_code == 200
    assert [row.attrs["data-span-id"] for row in elements(response.text, "data-span-id")] == [
        id16("b1")
    ]
