"""Toxiproxy 2.12 semantics of the embedded server, checked against what the Go source does.

Each test states the Go behaviour it holds the embedded server to (Shopify/toxiproxy
v2.12.0: ``api.go``, ``proxy.go``, ``proxy_collection.go``, ``toxics/``, ``metrics.go``,
``collectors/``, and the standard library's ``encoding/json`` and ``net/http``). They run
against the embedded server only: the conformance suite compares it with the Go binary.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.ports import LOOPBACK, is_listening
from stack.toxiproxy import VERSION, EmbeddedToxiproxy, ToxiproxyProcess
from stack.toxiproxy.cli import main as cli_main

# Rewrite the support module's asserts too: register it before it is imported.
pytest.register_assert_rewrite("tests.integration.toxiproxy_support")
from tests.integration.toxiproxy_support import (  # noqa: E402 - imported after register_assert_rewrite on purpose
    Upstream,
    connect,
    round_trip,
    wait_until,
)

pytestmark = pytest.mark.integration

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"


@pytest.fixture(scope="module")
def echo() -> Iterator[Upstream]:
    upstream = Upstream("echo")
    yield upstream
    upstream.close()


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedToxiproxy]:
    with EmbeddedToxiproxy() as handle:
        yield handle


@pytest.fixture
def http(server: EmbeddedToxiproxy) -> Iterator[httpx.Client]:
    """A client on the module's server, emptied after each test."""
    with httpx.Client(base_url=server.api_url, timeout=10) as client:
        yield client
        for name in client.get("/proxies").json():
            client.delete(f"/proxies/{name}")


def _create(http: httpx.Client, name: str, echo: Upstream) -> int:
    body = {"name": name, "listen": f"{LOOPBACK}:0", "upstream": f"{LOOPBACK}:{echo.port}"}
    response = http.post("/proxies", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["listen"].rsplit(":", 1)[1])


# -- 1. noop is a registered toxic type (toxics/noop.go: Register("noop", ...)) ----------


def test_noop_toxic_is_accepted_and_passes_data(http: httpx.Client, echo: Upstream) -> None:
    port = _create(http, "db", echo)
    created = http.post("/proxies/db/toxics", json={"type": "noop", "stream": "upstream"})
    assert created.status_code == 200, created.text
    assert created.json() == {
        "attributes": {},
        "name": "noop_upstream",
        "type": "noop",
        "stream": "upstream",
        "toxicity": 1,
    }
    with connect(port) as sock:
        assert round_trip(sock, b"through the noop") < 1.0
    unknown = http.post("/proxies/db/toxics", json={"type": "explode"})
    assert unknown.status_code == 400, "types that are not registered stay refused"
    assert unknown.json() == {"error": "invalid toxic type", "status": 400}


# -- 2. listen addresses are compared resolved (proxy.go Differs, AddOrReplace) ----------


def test_populate_keeps_a_proxy_named_by_its_hostname(http: httpx.Client, echo: Upstream) -> None:
    port = _create(http, "db", echo)
    http.post("/proxies/db/toxics", json={"type": "latency", "attributes": {"latency": 1}})
    upstream = f"{LOOPBACK}:{echo.port}"
    with connect(port) as sock:
        round_trip(sock)
        same = [{"name": "db", "listen": f"localhost:{port}", "upstream": upstream}]
        populated = http.post("/populate", json=same)
        assert populated.status_code == 201, populated.text
        (proxy,) = populated.json()["proxies"]
        assert proxy["listen"] == f"{LOOPBACK}:{port}", "the existing proxy, not a new one"
        assert [t["name"] for t in proxy["toxics"]] == ["latency_downstream"], "toxics kept"
        assert round_trip(sock) < 1.0, "its open connection is kept too"

    other = [{"name": "db", "listen": f"localhost:{port}", "upstream": f"{LOOPBACK}:1"}]
    replaced = http.post("/populate", json=other).json()["proxies"][0]
    assert replaced["toxics"] == [], "another upstream replaces the proxy"


def test_patch_to_the_same_address_by_hostname_changes_nothing(
    http: httpx.Client, echo: Upstream
) -> None:
    port = _create(http, "db", echo)
    with connect(port) as sock:
        round_trip(sock)
        patched = http.patch("/proxies/db", json={"listen": f"localhost:{port}"})
        assert patched.status_code == 200, patched.text
        assert patched.json()["listen"] == f"{LOOPBACK}:{port}"
        assert round_trip(sock) < 1.0, "no restart: the connection survives"


# -- 3. a listen address that does not resolve is refused before any change --------------


@pytest.mark.parametrize(
    ("listen", "error"),
    [
        (f"{LOOPBACK}:99999", "address 99999: invalid port"),
        ("localhost", "address localhost: missing port in address"),
        ("[::1]:1:2", "address [::1]:1:2: too many colons in address"),
    ],
)
def test_patch_with_an_unresolvable_listen_leaves_the_proxy_as_it_was(
    http: httpx.Client, echo: Upstream, listen: str, error: str
) -> None:
    port = _create(http, "db", echo)
    patched = http.patch("/proxies/db", json={"listen": listen})
    assert patched.status_code == 500
    assert patched.json() == {"error": error, "status": 500}
    proxy = http.get("/proxies/db").json()
    assert proxy["enabled"] is True
    assert proxy["listen"] == f"{LOOPBACK}:{port}"
    assert is_listening(port)
    assert http.post("/reset").status_code == 204


def test_populate_stops_at_an_unresolvable_listen_and_lists_what_it_did(
    http: httpx.Client, echo: Upstream
) -> None:
    port = _create(http, "db", echo)
    upstream = f"{LOOPBACK}:{echo.port}"
    entries = [
        {"name": "a", "listen": f"{LOOPBACK}:0", "upstream": upstream},
        {"name": "db", "listen": f"{LOOPBACK}:99999", "upstream": upstream},
        {"name": "c", "listen": f"{LOOPBACK}:0", "upstream": upstream},
    ]
    response = http.post("/populate", json=entries)
    assert response.status_code == 500
    body = response.json()
    assert (body["error"], body["status"]) == ("address 99999: invalid port", 500)
    assert [p["name"] for p in body["proxies"]] == ["a"], "the proxies done before the error"
    proxies = http.get("/proxies").json()
    assert set(proxies) == {"a", "db"}
    assert proxies["db"]["listen"] == f"{LOOPBACK}:{port}"
    assert proxies["db"]["enabled"] is True


def test_patch_to_an_address_that_does_not_bind_disables_the_proxy(
    http: httpx.Client, echo: Upstream
) -> None:
    _create(http, "db", echo)
    bad = "192.0.2.1:0"  # TEST-NET-1: resolves, but is no local address
    bind_error = {
        "error": f"listen tcp {bad}: bind: cannot assign requested address",
        "status": 500,
    }
    patched = http.patch("/proxies/db", json={"listen": bad})
    assert patched.status_code == 500
    assert patched.json() == bind_error
    proxy = http.get("/proxies/db").json()
    assert (proxy["enabled"], proxy["listen"]) == (False, bad)
    for _ in range(2):
        reset = http.post("/reset")
        assert (reset.status_code, reset.json()) == (500, bind_error), "every reset fails"


# -- 4. Expect: 100-continue is answered at once (net/http expectContinueReader) ----------


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(4096)
        if not piece:
            break
        data += piece
    return data


def test_expect_100_continue_is_answered_without_waiting(
    server: EmbeddedToxiproxy, http: httpx.Client, echo: Upstream
) -> None:
    body = f'{{"name": "db", "upstream": "{LOOPBACK}:{echo.port}"}}'.encode()
    head = (
        f"POST /proxies HTTP/1.1\r\nHost: {LOOPBACK}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    ).encode()
    with socket.create_connection((LOOPBACK, server.port), timeout=0.5) as sock:
        sock.sendall(head)
        assert _read_head(sock) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.settimeout(5)
        sock.sendall(body)
        assert _read_head(sock).startswith(b"HTTP/1.1 201 Created\r\n")
    assert "db" in http.get("/proxies").json()


def test_expect_100_continue_gets_its_interim_answer_before_the_body(
    server: EmbeddedToxiproxy,
) -> None:
    """A client that sends ``Expect: 100-continue`` (curl does) holds its body until it
    hears ``100 Continue``; without it, curl waits a second on every request."""
    host, _, port = server.api_url.removeprefix("http://").rpartition(":")
    head = (
        f"POST /populate HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(head.encode())
        interim = conn.recv(64)  # the body is not sent yet: only the interim answer can come
        assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
        conn.sendall(b"[]")
        answer = interim
        while chunk := conn.recv(4096):
            answer += chunk
    assert b"HTTP/1.1 201" in answer, answer
    assert answer.endswith(b'{"proxies":null}'), answer


# -- 5. /metrics (metrics.go, collectors/, -proxy-metrics, -runtime-metrics) -------------


def test_metrics_is_not_found_without_a_flag(http: httpx.Client) -> None:
    response = http.get("/metrics")
    assert response.status_code == 404
    assert response.text == "404 page not found\n"


def _families(text: str) -> set[str]:
    return set(re.findall(r"(?m)^# TYPE (\S+) ", text))


def test_proxy_metrics_count_bytes_per_link(echo: Upstream) -> None:
    with (
        EmbeddedToxiproxy(proxy_metrics=True) as handle,
        httpx.Client(base_url=handle.api_url) as http,
    ):
        before = http.get("/metrics")
        assert before.status_code == 200
        assert before.headers["content-type"] == METRICS_TYPE
        assert _families(before.text) == {"promhttp_metric_handler_errors_total"}
        assert 'promhttp_metric_handler_errors_total{cause="encoding"} 0\n' in before.text

        port = _create(http, "db", echo)
        with connect(port) as sock:
            assert round_trip(sock, b"x" * 1000) < 1.0
        labels = f'listener="{LOOPBACK}:{port}",proxy="db",upstream="{LOOPBACK}:{echo.port}"'
        expected = [
            f'toxiproxy_proxy_received_bytes_total{{direction="downstream",{labels}}} 1000',
            f'toxiproxy_proxy_received_bytes_total{{direction="upstream",{labels}}} 1000',
            f'toxiproxy_proxy_sent_bytes_total{{direction="downstream",{labels}}} 1000',
            f'toxiproxy_proxy_sent_bytes_total{{direction="upstream",{labels}}} 1000',
        ]

        def counted() -> bool:
            lines = http.get("/metrics").text.splitlines()
            return all(line in lines for line in expected)

        assert wait_until(counted), http.get("/metrics").text
        text = http.get("/metrics", headers={"Accept-Encoding": "identity"}).text
        assert "# TYPE toxiproxy_proxy_sent_bytes_total counter" in text
        assert not any(name.startswith("process_") for name in _families(text))
        assert http.post("/metrics").status_code == 200, "the route takes any method"


def test_runtime_metrics_are_process_metrics(echo: Upstream) -> None:
    with (
        EmbeddedToxiproxy(runtime_metrics=True) as handle,
        httpx.Client(base_url=handle.api_url) as http,
    ):
        port = _create(http, "db", echo)
        with connect(port) as sock:
            round_trip(sock)
        text = http.get("/metrics").text
        families = _families(text)
        assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= families
        assert "promhttp_metric_handler_errors_total" in families
        assert not any(name.startswith("toxiproxy_") for name in families)
        assert sorted(families) == [name for name in re.findall(r"(?m)^# TYPE (\S+) ", text)]


def test_cli_metrics_flags(tmp_path: Path) -> None:
    handle = ToxiproxyProcess(
        "embedded", log_path=tmp_path / "tp.log", proxy_metrics=True, runtime_metrics=True
    )
    assert handle.argv()[-2:] == ["-proxy-metrics", "-runtime-metrics"]
    with handle:
        response = httpx.get(f"{handle.api_url}/metrics")
    assert response.status_code == 200
    assert "process_cpu_seconds_total" in _families(response.text)


# -- 6. the version is the release number alone (api.go Version, .goreleaser.yml) --------


def test_version_has_no_build_suffix(
    http: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    response = http.get("/version")
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.content == b'{"version": "2.12.0"}\n'
    assert re.fullmatch(r"\d+(\.\d+)*", VERSION), "Ruby's Gem::Version must accept it"
    assert cli_main(["-version"]) == 0
    assert capsys.readouterr().out == "toxiproxy-server version 2.12.0\n"


# -- 7. JSON null bodies decode to the defaults (encoding/json) --------------------------


def test_null_bodies_are_empty_structs(http: httpx.Client, echo: Upstream) -> None:
    _create(http, "db", echo)
    http.post("/proxies/db/toxics", json={"type": "latency", "attributes": {"latency": 7}})
    proxy = http.get("/proxies/db").json()
    toxic = proxy["toxics"][0]
    cases = [
        ("POST", "/proxies", 400, {"error": "missing required field: name", "status": 400}),
        ("POST", "/populate", 201, {"proxies": None}),
        ("PATCH", "/proxies/db", 200, proxy),
        ("POST", "/proxies/db", 200, proxy),
        ("POST", "/proxies/db/toxics", 400, {"error": "invalid toxic type", "status": 400}),
        ("PATCH", "/proxies/db/toxics/latency_downstream", 200, toxic),
    ]
    for method, path, status, body in cases:
        response = http.request(method, path, content=b"null")
        assert (response.status_code, response.json()) == (status, body), (method, path)

    entry = http.post("/populate", content=b"[null]")
    assert entry.status_code == 400
    assert entry.json() == {
        "error": "missing required field: name at proxy 1",
        "status": 400,
        "proxies": None,
    }
    assert http.post("/populate", json=[]).json() == {"proxies": None}
    nulls = {"name": "n", "upstream": f"{LOOPBACK}:{echo.port}", "listen": None, "enabled": None}
    created = http.post("/proxies", json=nulls)
    assert created.status_code == 201
    assert created.json()["enabled"] is True, "a null field keeps its default"


# -- 8. object keys match struct fields ignoring case (encoding/json) --------------------


def test_keys_match_fields_ignoring_case(http: httpx.Client, echo: Upstream) -> None:
    body = {"Name": "db", "UPSTREAM": f"{LOOPBACK}:{echo.port}", "Listen": f"{LOOPBACK}:0"}
    created = http.post("/proxies", json={**body, "Enabled": False})
    assert created.status_code == 201, created.text
    assert (created.json()["name"], created.json()["enabled"]) == ("db", False)
    assert http.patch("/proxies/db", json={"ENABLED": True}).json()["enabled"] is True

    toxic = {"Type": "latency", "STREAM": "upstream", "Toxicity": 0.5}
    added = http.post("/proxies/db/toxics", json={**toxic, "Attributes": {"Latency": 9}})
    assert added.status_code == 200, added.text
    assert added.json()["name"] == "latency_upstream"
    assert added.json()["attributes"] == {"latency": 9, "jitter": 0}
    assert added.json()["toxicity"] == pytest.approx(0.5)
    patched = http.patch(
        "/proxies/db/toxics/latency_upstream",
        json={"TOXICITY": 1, "attributes": {"JITTER": 3}},
    )
    assert patched.json()["toxicity"] == 1
    assert patched.json()["attributes"] == {"latency": 9, "jitter": 3}

    entries = [{"NAME": "p", "upstream": f"{LOOPBACK}:{echo.port}", "LiStEn": f"{LOOPBACK}:0"}]
    assert http.post("/populate", json=entries).json()["proxies"][0]["name"] == "p"


def test_the_last_key_naming_a_field_wins(http: httpx.Client, echo: Upstream) -> None:
    upstream = f'"upstream": "{LOOPBACK}:{echo.port}"'
    exact_last = f'{{"Name": "folded", "name": "exact", {upstream}}}'
    assert http.post("/proxies", content=exact_last).json()["name"] == "exact"
    folded_last = f'{{"name": "exact2", "NAME": "folded2", {upstream}}}'
    assert http.post("/proxies", content=folded_last).json()["name"] == "folded2"
    repeated = f'{{"name": "a", "Name": "b", "name": "c", {upstream}}}'
    assert http.post("/proxies", content=repeated).json()["name"] == "c"
