"""The set of proxies of one server (Toxiproxy's ``ProxyCollection``)."""

from __future__ import annotations

from dataclasses import dataclass

from stack.toxiproxy.exceptions import (
    ERR_BAD_REQUEST_BODY,
    ERR_MISSING_FIELD,
    ERR_PROXY_ALREADY_EXISTS,
    ERR_PROXY_NOT_FOUND,
    ApiError,
)
from stack.toxiproxy.gojson import bool_field, decode_json, json_kind, string_field, struct_fields
from stack.toxiproxy.metrics import ProxyMetrics
from stack.toxiproxy.proxy import Proxy

POPULATE_GO_TYPE = '[]struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'
#: The JSON fields of Toxiproxy's ``Proxy`` struct that a client can set.
PROXY_FIELDS = ("name", "listen", "upstream", "enabled")


@dataclass(frozen=True)
class ProxySpec:
    """A proxy as a client asks for it (create, populate, config file)."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True


def _spec(fields: dict[str, object]) -> ProxySpec:
    return ProxySpec(
        name=string_field(fields, "name", "", "Proxy"),
        listen=string_field(fields, "listen", "", "Proxy"),
        upstream=string_field(fields, "upstream", "", "Proxy"),
        enabled=bool_field(fields, "enabled", True, "Proxy"),
    )


def decode_proxy(body: bytes) -> ProxySpec:
    """A ``POST /proxies`` body; name and upstream are required, enabled defaults to true.

    ``null`` is an empty proxy, hence "missing required field: name".
    """
    spec = _spec(struct_fields(decode_json(body), "toxiproxy.Proxy", PROXY_FIELDS))
    if not spec.name:
        raise ERR_MISSING_FIELD.joined("name")
    if not spec.upstream:
        raise ERR_MISSING_FIELD.joined("upstream")
    return spec


def decode_populate(body: bytes) -> list[ProxySpec]:
    """A ``POST /populate`` body (or ``-config`` file): every entry checked before any change.

    ``null`` is no proxies; a ``null`` entry is an empty proxy (missing name).
    ``enabled`` is a pointer there: ``null`` means the default, true.
    """
    value = decode_json(body)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ERR_BAD_REQUEST_BODY.joined(
            f"json: cannot unmarshal {json_kind(value)} into Go value of type {POPULATE_GO_TYPE}"
        )
    specs: list[ProxySpec] = []
    for index, item in enumerate(value, start=1):
        fields = struct_fields(item, "struct { toxiproxy.Proxy }", PROXY_FIELDS, ("enabled",))
        spec = _spec(fields)
        if not spec.name:
            raise ERR_MISSING_FIELD.joined(f"name at proxy {index}")
        if not spec.upstream:
            raise ERR_MISSING_FIELD.joined(f"upstream at proxy {index}")
        specs.append(spec)
    return specs


class ProxyCollection:
    """Proxies by name; guards against duplicates like Toxiproxy does."""

    def __init__(self, seed: int | None = None, metrics: ProxyMetrics | None = None) -> None:
        self.seed = seed
        self.metrics = metrics
        self.proxies: dict[str, Proxy] = {}

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ERR_PROXY_NOT_FOUND
        return proxy

    def new_proxy(self, spec: ProxySpec) -> Proxy:
        return Proxy(spec.name, spec.listen, spec.upstream, seed=self.seed, metrics=self.metrics)

    async def add(self, spec: ProxySpec) -> Proxy:
        if spec.name in self.proxies:
            raise ERR_PROXY_ALREADY_EXISTS
        proxy = self.new_proxy(spec)
        if spec.enabled:
            await proxy.start()
        self.proxies[spec.name] = proxy
        return proxy

    async def add_or_replace(self, spec: ProxySpec) -> Proxy:
        """Toxiproxy's ``AddOrReplace``: keep a proxy whose resolved address and upstream
        are the same (toxics and connections too), else stop it and start a new one."""
        existing = self.proxies.get(spec.name)
        if existing is not None:
            if not await existing.differs(spec.listen, spec.upstream):
                return existing
            await existing.stop()
        proxy = self.new_proxy(spec)
        if spec.enabled:
            await proxy.start()
        self.proxies[spec.name] = proxy
        return proxy

    async def populate(self, body: bytes) -> tuple[list[Proxy], ApiError | None]:
        """The proxies added or kept, in order, and the error that stopped the rest."""
        try:
            specs = decode_populate(body)
        except ApiError as error:
            return [], error
        proxies: list[Proxy] = []
        for spec in specs:
            try:
                proxies.append(await self.add_or_replace(spec))
            except ApiError as error:
                return proxies, error
        return proxies, None

    async def remove(self, name: str) -> None:
        proxy = self.get(name)
        await proxy.stop()
        del self.proxies[name]

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic (``POST /reset``)."""
        for proxy in list(self.proxies.values()):
            await proxy.start()
            await proxy.reset_toxics()

    async def clear(self) -> None:
        for name in list(self.proxies):
            await self.remove(name)
