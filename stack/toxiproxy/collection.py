"""The set of proxies of one server (Toxiproxy's ``ProxyCollection``)."""

from __future__ import annotations

from dataclasses import dataclass

from stack.toxiproxy.exceptions import (
    ERR_BAD_REQUEST_BODY,
    ERR_MISSING_FIELD,
    ERR_PROXY_ALREADY_EXISTS,
    ERR_PROXY_NOT_FOUND,
)
from stack.toxiproxy.proxy import Proxy
from stack.toxiproxy.toxics import (
    _json_kind,  # same package: Go's JSON kind names are kept in one place
    bool_field,
    decode_json,
    decode_object,
    string_field,
)

POPULATE_GO_TYPE = '[]struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }'


@dataclass(frozen=True)
class ProxySpec:
    """A proxy as a client asks for it (create, populate, config file)."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True


def decode_proxy(body: bytes) -> ProxySpec:
    """A ``POST /proxies`` body; name and upstream are required, enabled defaults to true."""
    obj = decode_object(decode_json(body), "toxiproxy.Proxy")
    spec = ProxySpec(
        name=string_field(obj, "name", "", "Proxy"),
        listen=string_field(obj, "listen", "", "Proxy"),
        upstream=string_field(obj, "upstream", "", "Proxy"),
        enabled=bool_field(obj, "enabled", True, "Proxy"),
    )
    if not spec.name:
        raise ERR_MISSING_FIELD.joined("name")
    if not spec.upstream:
        raise ERR_MISSING_FIELD.joined("upstream")
    return spec


def decode_populate(body: bytes) -> list[ProxySpec]:
    """A ``POST /populate`` body (or ``-config`` file): every entry checked before any change."""
    value = decode_json(body)
    if not isinstance(value, list):
        raise ERR_BAD_REQUEST_BODY.joined(
            f"json: cannot unmarshal {_json_kind(value)} into Go value of type {POPULATE_GO_TYPE}"
        )
    specs: list[ProxySpec] = []
    for index, item in enumerate(value, start=1):
        obj = decode_object(item, "struct { toxiproxy.Proxy }")
        spec = ProxySpec(
            name=string_field(obj, "name", "", "Proxy"),
            listen=string_field(obj, "listen", "", "Proxy"),
            upstream=string_field(obj, "upstream", "", "Proxy"),
            enabled=bool_field(obj, "enabled", True, "Proxy"),
        )
        if not spec.name:
            raise ERR_MISSING_FIELD.joined(f"name at proxy {index}")
        if not spec.upstream:
            raise ERR_MISSING_FIELD.joined(f"upstream at proxy {index}")
        specs.append(spec)
    return specs


class ProxyCollection:
    """Proxies by name; guards against duplicates like Toxiproxy does."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self.proxies: dict[str, Proxy] = {}

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ERR_PROXY_NOT_FOUND
        return proxy

    def new_proxy(self, spec: ProxySpec) -> Proxy:
        return Proxy(spec.name, spec.listen, spec.upstream, seed=self.seed)

    async def add(self, spec: ProxySpec) -> Proxy:
        if spec.name in self.proxies:
            raise ERR_PROXY_ALREADY_EXISTS
        proxy = self.new_proxy(spec)
        if spec.enabled:
            await proxy.start()
        self.proxies[spec.name] = proxy
        return proxy

    async def add_or_replace(self, spec: ProxySpec) -> Proxy:
        existing = self.proxies.get(spec.name)
        if existing is not None:
            if existing.listen == spec.listen and existing.upstream == spec.upstream:
                return existing
            await existing.stop()
        proxy = self.new_proxy(spec)
        if spec.enabled:
            await proxy.start()
        self.proxies[spec.name] = proxy
        return proxy

    async def populate(self, body: bytes) -> list[Proxy]:
        return [await self.add_or_replace(spec) for spec in decode_populate(body)]

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
