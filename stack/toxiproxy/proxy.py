"""One proxy: a listening socket, its connections and its toxics (Toxiproxy's ``Proxy``)."""

from __future__ import annotations

import asyncio
import logging
import os
import random

from stack.toxiproxy.address import (
    AddressError,
    join_address,
    resolve_tcp,
    resolved_address,
    split_address,
)
from stack.toxiproxy.exceptions import ERR_TOXIC_NOT_FOUND, ApiError
from stack.toxiproxy.link import Connection, Link
from stack.toxiproxy.metrics import ProxyMetrics
from stack.toxiproxy.toxics import Direction, Toxic, decode_new_toxic, decode_toxic_update

log = logging.getLogger("stack.toxiproxy")

__all__ = ["Proxy", "join_address", "split_address"]


class Proxy:
    """A named proxy from ``listen`` to ``upstream``; toxics apply to every connection."""

    def __init__(
        self,
        name: str,
        listen: str,
        upstream: str,
        seed: int | None = None,
        metrics: ProxyMetrics | None = None,
    ) -> None:
        self.name = name
        # Go would listen on every interface for an empty address; the lab stays on loopback.
        self.listen = listen or "127.0.0.1:0"
        self.upstream = upstream
        self.enabled = False
        self.seed = seed
        self.metrics = metrics  # where links count their bytes, when proxy metrics are on
        self.toxics: dict[Direction, list[Toxic]] = {d: [] for d in Direction}
        self.server: asyncio.Server | None = None
        self.connections: set[Connection] = set()
        self.joined: set[Connection] = set()
        self.lock = asyncio.Lock()
        self._sequence = 0

    # -- wire form ---------------------------------------------------------------------

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [t.to_json() for t in self.all_toxics()],
        }

    def all_toxics(self) -> list[Toxic]:
        return [t for d in Direction for t in self.toxics[d]]

    def find_toxic(self, name: str) -> Toxic | None:
        return next((t for t in self.all_toxics() if t.name == name), None)

    # -- listening ---------------------------------------------------------------------

    def upstream_address(self) -> tuple[str, int]:
        return split_address(self.upstream)

    def _rng(self, sequence: int, direction: Direction) -> random.Random:
        if self.seed is None:
            return random.Random()  # noqa: S311 - fault injection, not cryptography
        # A string seed is hashed (SHA-512): reproducible across runs and processes.
        return random.Random(f"{self.seed}:{self.name}:{sequence}:{direction.name}")  # noqa: S311 - reproducible fault injection, not cryptography

    def _accept(self) -> asyncio.Protocol:
        self._sequence += 1
        seq = self._sequence
        conn = Connection(
            self, self._rng(seq, Direction.UPSTREAM), self._rng(seq, Direction.DOWNSTREAM)
        )
        self.connections.add(conn)
        return conn.client

    async def start(self) -> None:
        """Listen (Toxiproxy's ``start``) on the resolved address; port 0 is replaced.

        Like ``net.Listen``: a hostname is resolved to its first IPv4 address, an
        address that does not resolve or bind is a 500 and leaves the proxy disabled.
        """
        if self.enabled:
            return
        try:
            host, port = await resolve_tcp(self.listen)
        except AddressError as exc:
            raise ApiError(f"listen tcp: {exc}", 500) from None
        loop = asyncio.get_running_loop()
        try:
            self.server = await loop.create_server(
                self._accept, host or None, port, reuse_address=True, backlog=1024
            )
        except OSError as exc:
            reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
            where = join_address(host, port)
            raise ApiError(f"listen tcp {where}: bind: {reason}", 500) from None
        bound = self.server.sockets[0].getsockname()
        self.listen = join_address(bound[0], bound[1])
        self.enabled = True
        log.info(
            "Started proxy name=%s proxy=%s upstream=%s", self.name, self.listen, self.upstream
        )

    async def differs(self, listen: str, upstream: str) -> bool:
        """Toxiproxy's ``Proxy.Differs``: another upstream, or a listen address that
        resolves to something else than the current one (``localhost:N`` is the same
        as ``127.0.0.1:N``). An address that does not resolve is a 500.
        """
        try:
            resolved = await resolved_address(listen)
        except AddressError as exc:
            raise ApiError(str(exc), 500) from None
        return resolved != self.listen or upstream != self.upstream

    async def stop(self) -> None:
        """Stop listening and close every connection (Toxiproxy's ``stop``)."""
        if not self.enabled:
            return
        self.enabled = False
        if self.server is not None:
            self.server.close()
            self.server = None
        for conn in list(self.connections):
            conn.abort()
        log.info(
            "Terminated proxy name=%s proxy=%s upstream=%s", self.name, self.listen, self.upstream
        )

    async def update(self, listen: str, upstream: str, enabled: bool) -> None:
        """Toxiproxy's ``Proxy.Update``: restart on a different address, then enable or
        disable. A listen address that does not resolve changes nothing (500)."""
        if await self.differs(listen, upstream):
            await self.stop()
            self.listen = listen or "127.0.0.1:0"
            self.upstream = upstream
        if enabled != self.enabled:
            if enabled:
                await self.start()
            else:
                await self.stop()

    # -- connections -------------------------------------------------------------------

    def toxics_for(self, direction: Direction) -> list[Toxic]:
        return list(self.toxics[direction])

    def link_started(self, conn: Connection) -> None:
        self.joined.add(conn)

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self.joined.discard(conn)

    def _links(self, direction: Direction) -> list[Link]:
        links = (conn.link(direction) for conn in self.joined)
        return [link for link in links if link is not None]

    # -- toxics ------------------------------------------------------------------------

    async def add_toxic(self, body: bytes) -> Toxic:
        async with self.lock:
            toxic = decode_new_toxic(body, lambda name: self.find_toxic(name) is not None)
            self.toxics[toxic.direction].append(toxic)
            links = self._links(toxic.direction)
            await asyncio.gather(*(link.add_toxic(toxic) for link in links))
            return toxic

    async def update_toxic(self, name: str, body: bytes) -> Toxic:
        async with self.lock:
            existing = self.find_toxic(name)
            if existing is None:
                raise ERR_TOXIC_NOT_FOUND
            toxic = decode_toxic_update(existing, body)
            chain = self.toxics[toxic.direction]
            chain[chain.index(existing)] = toxic
            links = self._links(toxic.direction)
            await asyncio.gather(*(link.update_toxic(toxic) for link in links))
            return toxic

    async def remove_toxic(self, name: str) -> bool:
        async with self.lock:
            return await self._remove(name)

    async def _remove(self, name: str) -> bool:
        toxic = self.find_toxic(name)
        if toxic is None:
            return False
        self.toxics[toxic.direction].remove(toxic)
        links = self._links(toxic.direction)
        await asyncio.gather(*(link.remove_toxic(name) for link in links))
        return True

    async def reset_toxics(self) -> None:
        async with self.lock:
            for toxic in self.all_toxics():
                await self._remove(toxic.name)
