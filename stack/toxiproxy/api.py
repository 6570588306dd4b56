"""Toxiproxy 2.x HTTP API: routes, JSON shapes and status codes of Toxiproxy's ``api.go``."""

from __future__ import annotations

import json
import logging

from stack.toxiproxy.collection import PROXY_FIELDS, ProxyCollection, decode_proxy
from stack.toxiproxy.exceptions import ERR_TOXIC_NOT_FOUND, ApiError
from stack.toxiproxy.gojson import bool_field, decode_json, string_field, struct_fields
from stack.toxiproxy.httpserver import Request, Response
from stack.toxiproxy.metrics import CONTENT_TYPE, Metrics, accepts_gzip, compress

log = logging.getLogger("stack.toxiproxy.api")

#: Toxiproxy release whose API this server implements.
API_VERSION = "2.12.0"
#: What ``GET /version`` and ``-version`` report: the release number alone, as the Go
#: server does, so that clients parsing it (Ruby's ``Gem::Version``) accept it.
VERSION = API_VERSION

TEXT = "text/plain; charset=utf-8"
NOT_FOUND = Response(404, b"404 page not found\n", TEXT, (("X-Content-Type-Options", "nosniff"),))
METHOD_NOT_ALLOWED = Response(405, b"", None)
BROWSER_REFUSED = Response(403, b"User agent not allowed\n", TEXT)


def _json(payload: object, status: int = 200) -> Response:
    return Response(status, json.dumps(payload, separators=(",", ":")).encode())


def error_response(error: ApiError) -> Response:
    """What Go's ``http.Error`` sends: text/plain content type, JSON body, newline."""
    return Response(error.status, error.body(), TEXT, (("X-Content-Type-Options", "nosniff"),))


class ToxiproxyApi:
    """Dispatches requests to the proxy collection."""

    def __init__(self, collection: ProxyCollection, metrics: Metrics | None = None) -> None:
        self.collection = collection
        self.metrics = metrics or Metrics()

    async def __call__(self, request: Request) -> Response:
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            return BROWSER_REFUSED
        parts = request.path.strip("/").split("/") if request.path != "/" else [""]
        if request.path.endswith("/") and request.path != "/":
            return NOT_FOUND  # gorilla/mux without StrictSlash: "/proxies/" is another path
        try:
            return await self._route(request, parts)
        except ApiError as error:
            return error_response(error)

    async def _route(self, request: Request, parts: list[str]) -> Response:
        method = request.method
        match parts:
            case ["reset"]:
                if method == "POST":
                    await self.collection.reset()
                    return Response(204, content_type=None)
            case ["version"]:
                if method == "GET":
                    body = f'{{"version": "{VERSION}"}}\n'.encode()
                    return Response(200, body, "application/json;charset=utf-8")
            case ["metrics"] if self.metrics.enabled:
                return self._metrics(request)  # any method, like Go's unrestricted route
            case ["populate"]:
                if method == "POST":
                    return await self._populate(request.body)
            case ["proxies"]:
                if method == "GET":
                    proxies = self.collection.proxies
                    return _json({name: proxies[name].to_json() for name in sorted(proxies)})
                if method == "POST":
                    proxy = await self.collection.add(decode_proxy(request.body))
                    return _json(proxy.to_json(), 201)
            case ["proxies", name]:
                return await self._proxy(method, name, request.body)
            case ["proxies", name, "toxics"]:
                if method == "GET":
                    proxy = self.collection.get(name)
                    return _json([t.to_json() for t in proxy.all_toxics()])
                if method == "POST":
                    toxic = await self.collection.get(name).add_toxic(request.body)
                    return _json(toxic.to_json())  # Toxiproxy answers 200 here, not 201
            case ["proxies", name, "toxics", toxic_name]:
                return await self._toxic(method, name, toxic_name, request.body)
            case _:
                return NOT_FOUND
        return METHOD_NOT_ALLOWED

    def _metrics(self, request: Request) -> Response:
        body = self.metrics.exposition()
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            return Response(200, compress(body), CONTENT_TYPE, (("Content-Encoding", "gzip"),))
        return Response(200, body, CONTENT_TYPE)

    async def _populate(self, body: bytes) -> Response:
        proxies, error = await self.collection.populate(body)
        # Go marshals the list it built; with no proxy in it, that is null.
        listed = [p.to_json() for p in proxies] or None
        if error is not None:
            log.warning("Populate errors: %s", error.message)
            payload = {"error": error.message, "status": error.status, "proxies": listed}
            return _json(payload, error.status)
        return _json({"proxies": listed}, 201)

    async def _proxy(self, method: str, name: str, body: bytes) -> Response:
        if method == "GET":
            return _json(self.collection.get(name).to_json())
        if method in ("POST", "PATCH"):
            proxy = self.collection.get(name)
            # Defaults are the proxy's own values: ``null`` or ``{}`` changes nothing.
            fields = struct_fields(decode_json(body), "toxiproxy.Proxy", PROXY_FIELDS)
            listen = string_field(fields, "listen", proxy.listen, "Proxy")
            upstream = string_field(fields, "upstream", proxy.upstream, "Proxy")
            enabled = bool_field(fields, "enabled", proxy.enabled, "Proxy")
            await proxy.update(listen, upstream, enabled)
            return _json(proxy.to_json())
        if method == "DELETE":
            await self.collection.remove(name)
            return Response(204, content_type=None)
        return METHOD_NOT_ALLOWED

    async def _toxic(self, method: str, name: str, toxic_name: str, body: bytes) -> Response:
        if method not in ("GET", "POST", "PATCH", "DELETE"):
            return METHOD_NOT_ALLOWED
        proxy = self.collection.get(name)
        if method == "GET":
            toxic = proxy.find_toxic(toxic_name)
            if toxic is None:
                raise ERR_TOXIC_NOT_FOUND
            return _json(toxic.to_json())
        if method == "DELETE":
            if not await proxy.remove_toxic(toxic_name):
                raise ERR_TOXIC_NOT_FOUND
            return Response(204, content_type=None)
        toxic = await proxy.update_toxic(toxic_name, body)
        return _json(toxic.to_json())
