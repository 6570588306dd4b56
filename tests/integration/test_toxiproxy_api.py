"""Toxiproxy HTTP API conformance: JSON shapes, status codes and error messages.

Runs against every server in ``SERVER_KINDS`` (see toxiproxy_support).
"""

from __future__ import annotations

import pytest
import toxiproxy as toxiproxy_client
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from stack.ports import LOOPBACK, is_listening

# Rewrite the support module's asserts too: register it before it is imported.
pytest.register_assert_rewrite("tests.integration.toxiproxy_support")
from tests.integration.toxiproxy_support import (  # noqa: E402 - imported after register_assert_rewrite on purpose
    ServerUnderTest,
    Upstream,
)

pytestmark = pytest.mark.integration
# The server/upstream fixtures, parametrized over every server kind.
pytest_plugins = ["tests.integration.toxiproxy_support"]

PROXY_KEYS = {"name", "listen", "upstream", "enabled", "toxics"}
TOXIC_KEYS = {"name", "type", "stream", "toxicity", "attributes"}


def _proxy_body(name: str, upstream: Upstream) -> dict[str, object]:
    return {"name": name, "listen": f"{LOOPBACK}:0", "upstream": f"{LOOPBACK}:{upstream.port}"}


def test_version(toxiproxy: ServerUnderTest) -> None:
    response = toxiproxy.http.get("/version")
    assert response.status_code == 200
    assert response.json()["version"].startswith("2.")


def test_create_get_list_delete_proxy(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    created = toxiproxy.http.post("/proxies", json=_proxy_body("db", echo_upstream))
    assert created.status_code == 201
    body = created.json()
    assert set(body) == PROXY_KEYS
    assert body["enabled"] is True
    assert body["toxics"] == []
    host, port = body["listen"].rsplit(":", 1)
    assert host == LOOPBACK
    assert int(port) > 0, "listen port 0 must be replaced by the chosen port"
    assert is_listening(int(port))

    shown = toxiproxy.http.get("/proxies/db")
    assert shown.status_code == 200
    assert shown.json() == body
    listing = toxiproxy.http.get("/proxies")
    assert listing.status_code == 200
    assert listing.json() == {"db": body}

    deleted = toxiproxy.http.delete("/proxies/db")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert not is_listening(int(port))
    assert toxiproxy.http.get("/proxies").json() == {}


def test_proxy_errors(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    assert toxiproxy.http.post("/proxies", json=_proxy_body("db", echo_upstream)).status_code == 201
    duplicate = toxiproxy.http.post("/proxies", json=_proxy_body("db", echo_upstream))
    assert duplicate.status_code == 409
    assert duplicate.json() == {"error": "proxy already exists", "status": 409}

    no_name = toxiproxy.http.post("/proxies", json={"upstream": "127.0.0.1:1"})
    assert no_name.status_code == 400
    assert no_name.json() == {"error": "missing required field: name", "status": 400}
    no_upstream = toxiproxy.http.post("/proxies", json={"name": "x"})
    assert no_upstream.status_code == 400
    assert no_upstream.json() == {"error": "missing required field: upstream", "status": 400}

    malformed = toxiproxy.http.post("/proxies", content=b"{not json")
    assert malformed.status_code == 400
    assert malformed.json()["error"].startswith("bad request body")
    assert malformed.json()["status"] == 400

    for method, path in [
        ("GET", "/proxies/nope"),
        ("DELETE", "/proxies/nope"),
        ("POST", "/proxies/nope"),
        ("PATCH", "/proxies/nope"),
        ("GET", "/proxies/nope/toxics"),
        ("POST", "/proxies/nope/toxics"),
        ("GET", "/proxies/nope/toxics/t"),
    ]:
        response = toxiproxy.http.request(method, path, json={})
        assert response.status_code == 404, (method, path)
        assert response.json() == {"error": "proxy not found", "status": 404}


def test_update_proxy_disable_enable(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    port = toxiproxy.create_proxy("db", echo_upstream.port)
    patched = toxiproxy.http.patch("/proxies/db", json={"enabled": False})
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False
    assert not is_listening(port)
    # POST is the older (deprecated, still accepted) spelling of the update.
    posted = toxiproxy.http.post("/proxies/db", json={"enabled": True})
    assert posted.status_code == 200
    assert posted.json()["enabled"] is True
    assert posted.json()["listen"] == f"{LOOPBACK}:{port}", "re-enabling keeps the chosen port"
    assert is_listening(port)


def test_toxic_crud(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    toxiproxy.create_proxy("db", echo_upstream.port)
    created = toxiproxy.http.post(
        "/proxies/db/toxics", json={"type": "latency", "attributes": {"latency": 100}}
    )
    assert created.status_code == 200  # Toxiproxy answers 200, not 201, for a new toxic
    toxic = created.json()
    assert set(toxic) == TOXIC_KEYS
    assert toxic["name"] == "latency_downstream"
    assert toxic["stream"] == "downstream"
    assert toxic["toxicity"] == 1
    assert toxic["attributes"] == {"latency": 100, "jitter": 0}

    assert toxiproxy.http.get("/proxies/db/toxics").json() == [toxic]
    assert toxiproxy.http.get("/proxies/db/toxics/latency_downstream").json() == toxic
    assert toxiproxy.http.get("/proxies/db").json()["toxics"] == [toxic]

    patched = toxiproxy.http.patch(
        "/proxies/db/toxics/latency_downstream", json={"attributes": {"jitter": 5}}
    )
    assert patched.status_code == 200
    assert patched.json()["attributes"] == {"latency": 100, "jitter": 5}, "attributes merge"
    posted = toxiproxy.http.post("/proxies/db/toxics/latency_downstream", json={"toxicity": 0.5})
    assert posted.status_code == 200
    assert posted.json()["toxicity"] == pytest.approx(0.5)
    assert posted.json()["attributes"] == {"latency": 100, "jitter": 5}

    deleted = toxiproxy.http.delete("/proxies/db/toxics/latency_downstream")
    assert deleted.status_code == 204
    missing = toxiproxy.http.get("/proxies/db/toxics/latency_downstream")
    assert missing.status_code == 404
    assert missing.json() == {"error": "toxic not found", "status": 404}
    assert toxiproxy.http.delete("/proxies/db/toxics/latency_downstream").status_code == 404
    assert toxiproxy.http.patch("/proxies/db/toxics/nope", json={}).status_code == 404


def test_every_toxic_type_is_accepted_with_its_attributes(
    toxiproxy: ServerUnderTest, echo_upstream: Upstream
) -> None:
    toxiproxy.create_proxy("db", echo_upstream.port)
    expected = {
        "latency": {"latency": 1, "jitter": 2},
        "bandwidth": {"rate": 3},
        "slow_close": {"delay": 4},
        "timeout": {"timeout": 5},
        "reset_peer": {"timeout": 6},
        "slicer": {"average_size": 7, "size_variation": 1, "delay": 9},
        "limit_data": {"bytes": 10},
    }
    for type_, attributes in expected.items():
        toxic = toxiproxy.add_toxic("db", type_, attributes, stream="upstream")
        assert toxic["attributes"] == attributes
        assert toxic["name"] == f"{type_}_upstream"
    listed = toxiproxy.http.get("/proxies/db/toxics").json()
    assert [t["type"] for t in listed] == list(expected)


def test_bad_toxic_input(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    toxiproxy.create_proxy("db", echo_upstream.port)
    url = "/proxies/db/toxics"

    unknown = toxiproxy.http.post(url, json={"type": "explode"})
    assert unknown.status_code == 400
    assert unknown.json() == {"error": "invalid toxic type", "status": 400}

    stream = toxiproxy.http.post(url, json={"type": "latency", "stream": "sideways"})
    assert stream.status_code == 400
    assert stream.json() == {
        "error": "stream was invalid, can be either upstream or downstream",
        "status": 400,
    }

    wrong_type = toxiproxy.http.post(url, json={"type": "latency", "attributes": {"latency": "x"}})
    assert wrong_type.status_code == 400
    assert wrong_type.json()["error"].startswith("bad request body: json: cannot unmarshal")

    malformed = toxiproxy.http.post(url, content=b'{"type": ')
    assert malformed.status_code == 400
    assert malformed.json()["error"].startswith("bad request body")

    assert toxiproxy.http.post(url, json={"type": "latency"}).status_code == 200
    duplicate = toxiproxy.http.post(url, json={"type": "latency"})
    assert duplicate.status_code == 409
    assert duplicate.json() == {"error": "toxic already exists", "status": 409}
    named_duplicate = toxiproxy.http.post(
        url, json={"type": "bandwidth", "name": "latency_downstream", "stream": "upstream"}
    )
    assert named_duplicate.status_code == 409, "names are unique across both directions"


def test_populate_and_reset(toxiproxy: ServerUnderTest, echo_upstream: Upstream) -> None:
    entries = [_proxy_body("a", echo_upstream), _proxy_body("b", echo_upstream)]
    populated = toxiproxy.http.post("/populate", json=entries)
    assert populated.status_code == 201
    proxies = populated.json()["proxies"]
    assert [p["name"] for p in proxies] == ["a", "b"]
    assert all(set(p) == PROXY_KEYS for p in proxies)

    bad = toxiproxy.http.post("/populate", json=[{"name": "c"}])
    assert bad.status_code == 400
    assert bad.json()["error"] == "missing required field: upstream at proxy 1"
    assert "c" not in toxiproxy.http.get("/proxies").json()

    toxiproxy.add_toxic("a", "latency", {"latency": 10})
    toxiproxy.http.patch("/proxies/b", json={"enabled": False})
    reset = toxiproxy.http.post("/reset")
    assert reset.status_code == 204
    state = toxiproxy.http.get("/proxies").json()
    assert state["a"]["toxics"] == []
    assert state["b"]["enabled"] is True


def test_unknown_routes_and_methods(toxiproxy: ServerUnderTest) -> None:
    assert toxiproxy.http.get("/nope").status_code == 404
    assert toxiproxy.http.delete("/proxies").status_code == 405
    assert toxiproxy.http.get("/reset").status_code == 405


@pytest.fixture
def client(toxiproxy: ServerUnderTest) -> toxiproxy_client.Toxiproxy:
    # toxiproxy-python keeps host and port in class attributes of APIConsumer.
    previous = (APIConsumer.host, APIConsumer.port)
    tp = toxiproxy_client.Toxiproxy()
    tp.update_api_consumer(LOOPBACK, toxiproxy.port)
    yield tp
    tp.update_api_consumer(*previous)


def test_toxiproxy_python_client(
    client: toxiproxy_client.Toxiproxy, echo_upstream: Upstream
) -> None:
    assert client.running()
    assert client.version() is not None
    proxy = client.create(upstream=f"{LOOPBACK}:{echo_upstream.port}", name="db")
    assert proxy.name == "db"
    assert proxy.enabled is True
    assert is_listening(int(proxy.listen.rsplit(":", 1)[1]))
    assert set(client.proxies()) == {"db"}
    with pytest.raises(ProxyExists):
        client.create(upstream=f"{LOOPBACK}:{echo_upstream.port}", name="db")

    proxy.add_toxic(type="latency", attributes={"latency": 50})
    proxy.add_toxic(type="bandwidth", stream="upstream", name="bw", attributes={"rate": 9})
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "bw"}
    assert toxics["bw"].attributes == {"rate": 9}
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="explode")
    assert proxy.destroy_toxic("bw")
    assert set(proxy.toxics()) == {"latency_downstream"}

    proxy.disable()
    assert client.get_proxy("db").enabled is False
    with proxy.down():
        assert client.get_proxy("db").enabled is False
    assert client.get_proxy("db").enabled is True
    assert client.reset()
    assert proxy.toxics() == {}
    assert proxy.destroy()
    assert client.get_proxy("db") is None
    with pytest.raises(NotFound):
        proxy.destroy()
    populated = client.populate(
        [{"name": "p", "upstream": f"{LOOPBACK}:{echo_upstream.port}", "listen": f"{LOOPBACK}:0"}]
    )
    assert [p.name for p in populated] == ["p"]
