"""A proxied TCP connection: two sockets, two links (upstream, downstream).

Each :class:`Link` moves the bytes of one direction. With no toxic on it the
link is on the **fast path**: ``data_received`` writes straight into the other
transport (one event-loop callback, no queue, no task). With toxics it runs a
chain of :class:`~stack.toxiproxy.pipes.Stage` s between the socket and a sink,
like Toxiproxy's ``ToxicLink``. Toxics added, updated or removed while the
connection is open re-plumb the chain the way ``link.go`` does (interrupt the
neighbouring stage, move what it holds, restart it), so no byte is lost or
reordered; the link returns to the fast path once its chain is empty.

Toxiproxy semantics kept on purpose: a finished direction closes its
destination socket completely (``dest.Close()``, no half-close), and a
``reset_peer`` close sets ``SO_LINGER`` to 0 on both sockets so the peers see
an RST. With proxy metrics on, a link adds the bytes it read to the received
counter when its source ends, and the bytes it wrote to the sent counter when
it ends, unless its destination was lost first (Go's ``io.Copy`` write error).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from stack.toxiproxy.exceptions import ToxiproxyError
from stack.toxiproxy.metrics import LinkLabels, ProxyMetrics
from stack.toxiproxy.pipes import Chunk, Item, Signal, Stage, Stub
from stack.toxiproxy.toxics import Direction, Timeout, Toxic

if TYPE_CHECKING:
    from stack.toxiproxy.proxy import Proxy

log = logging.getLogger("stack.toxiproxy")

HIGH_WATER = 4 * 1024 * 1024  # bytes held in a toxic chain before the source is paused
LOW_WATER = 1024 * 1024
WRITE_HIGH_WATER = 1024 * 1024  # transport buffer limits on both legs
WRITE_LOW_WATER = 256 * 1024


def _set_linger_zero(transport: asyncio.BaseTransport | None) -> None:
    sock = None if transport is None else transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            log.debug("could not set SO_LINGER on a closing socket")


class Side(asyncio.Protocol):
    """The protocol of one socket of a connection (client side or upstream side)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.transport: asyncio.Transport | None = None
        self.reader: Link | None = None  # the link that reads from this socket
        self.writer: Link | None = None  # the link that writes to this socket
        self.early: list[bytes] = []  # read before the links exist (upstream still connecting)
        self.early_eof = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(WRITE_HIGH_WATER, WRITE_LOW_WATER)
        self.conn.side_made(self)

    def data_received(self, data: bytes) -> None:
        link = self.reader
        if link is not None:
            if link.fast:
                link.received += len(data)
                link.sent += len(data)
                link.dest_transport.write(data)
            else:
                link.feed(data)
        else:
            # uvloop starts reading right after connection_made even if it paused
            # reading there: keep the bytes and pause now, until upstream is connected.
            self.early.append(data)
            if self.transport is not None:
                self.transport.pause_reading()

    def eof_received(self) -> bool:
        if self.reader is not None:
            self.reader.feed_eof()
        else:
            self.early_eof = True
        return True  # keep the socket open: the other direction may still write to it

    def flush_early(self, link: Link) -> None:
        """Hand what arrived before the links existed to ``link`` (reading this side), in order."""
        early, self.early = self.early, []
        for data in early:
            link.feed(data)
        if self.early_eof:
            link.feed_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.writer is not None:
            self.writer.dest_gone()
        if self.reader is not None:
            self.reader.feed_eof()
        self.conn.side_lost()

    def pause_writing(self) -> None:
        if self.writer is not None:
            self.writer.set_dest_paused(True)

    def resume_writing(self) -> None:
        if self.writer is not None:
            self.writer.set_dest_paused(False)


class Link:
    """One direction of a connection: source socket → toxic chain → destination socket."""

    def __init__(self, direction: Direction, source: Side, dest: Side, rng: random.Random) -> None:
        if dest.transport is None:
            raise ToxiproxyError(f"{direction.name.lower()} link: destination socket not connected")
        self.direction = direction
        self.source = source
        self.dest = dest
        self.dest_transport: asyncio.Transport = dest.transport
        self.rng = rng
        self.stages: list[Stage] = []
        self.fast = True
        self.done = False  # the destination is closed: nothing more is written
        self.eof_fed = False
        self.pending = 0  # bytes inside the chain
        self.chain_paused = False
        self.dest_paused = False
        self.source_paused = False
        self.received = 0  # bytes read from the source
        self.sent = 0  # bytes written to the destination
        self.metrics: tuple[ProxyMetrics, LinkLabels] | None = None
        self.received_counted = False
        self.sent_counted = False
        source.reader = self
        dest.writer = self

    def start(self, toxics: list[Toxic]) -> None:
        for toxic in toxics:
            self._append(self._new_stage(toxic))
        for stage in self.stages:
            stage.start()

    # -- data path ---------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self.received += len(data)
        if self.stages:
            self.pending += len(data)
            self.stages[0].stub.input.put_nowait(Chunk(data, asyncio.get_running_loop().time()))
            if self.pending > HIGH_WATER and not self.chain_paused:
                self.chain_paused = True
                self._update_reading()
        elif not self.done:
            self.sent += len(data)
            self.dest_transport.write(data)

    def feed_eof(self) -> None:
        if self.eof_fed:
            return
        self.eof_fed = True
        self._count_received()
        if self.stages:
            self.stages[0].stub.input.put_nowait(Signal.EOF)
        else:
            self.sink(Signal.EOF)

    def sink(self, item: Item) -> None:
        """End of the chain: write to the destination, or close it."""
        if isinstance(item, Chunk):
            self.retire(len(item.data))
            if not self.done:
                self.sent += len(item.data)
                self.dest_transport.write(item.data)
            return
        if self.done:
            return
        self._finish()
        self._count_sent()
        if item is Signal.RESET:
            _set_linger_zero(self.dest_transport)
            _set_linger_zero(self.source.transport)
            self.dest_transport.abort()
        else:
            self.dest_transport.close()

    def retire(self, count: int) -> None:
        self.pending -= count
        if self.chain_paused and self.pending <= LOW_WATER:
            self.chain_paused = False
            self._update_reading()

    def dest_gone(self) -> None:
        if not self.done:
            self._finish()
            self.sent_counted = True  # lost before the end: Go's write fails, nothing counted

    def _finish(self) -> None:
        self.done = True
        self.fast = False

    def set_dest_paused(self, paused: bool) -> None:
        self.dest_paused = paused
        self._update_reading()

    def _update_reading(self) -> None:
        want_pause = self.chain_paused or self.dest_paused
        transport = self.source.transport
        if want_pause == self.source_paused or transport is None or transport.is_closing():
            return
        self.source_paused = want_pause
        if want_pause:
            transport.pause_reading()
        else:
            transport.resume_reading()

    # -- toxic chain -------------------------------------------------------------------

    def _new_stage(self, toxic: Toxic) -> Stage:
        stub = Stub(input=asyncio.Queue(), rng=self.rng, retire=self.retire)
        return Stage(stub, toxic.name, toxic.attributes, toxic.toxicity)

    def _append(self, stage: Stage) -> None:
        stage.stub.output = self.sink
        if self.stages:
            self.stages[-1].stub.output = _put(stage)
        self.stages.append(stage)
        self.fast = False

    def _index(self, name: str) -> int | None:
        for i, stage in enumerate(self.stages):
            if stage.name == name:
                return i
        return None

    async def add_toxic(self, toxic: Toxic) -> None:
        if self.done:
            return
        stage = self._new_stage(toxic)
        if self.stages:
            last = self.stages[-1]
            await last.interrupt()  # what it holds goes to the sink, ahead of the new toxic
            self._append(stage)
            stage.start()
            last.start()
        else:
            self._append(stage)
            stage.start()

    async def update_toxic(self, toxic: Toxic) -> None:
        index = self._index(toxic.name)
        if index is None or self.done:
            return
        stage = self.stages[index]
        await stage.interrupt()
        stage.attributes = toxic.attributes
        stage.toxicity = toxic.toxicity
        stage.start()

    async def remove_toxic(self, name: str) -> None:
        index = self._index(name)
        if index is None:
            return
        stage = self.stages[index]
        await stage.interrupt()
        if isinstance(stage.attributes, Timeout) and not stage.stub.closed:
            stage.stub.close()  # Toxiproxy's TimeoutToxic.Cleanup closes the link
            return
        previous = self.stages[index - 1] if index > 0 else None
        if previous is not None:
            await previous.interrupt()  # its held chunk lands in our input, in order
        # No await from here on: the chain is re-plumbed atomically.
        queue = stage.stub.input
        while not queue.empty():
            stage.stub.output(queue.get_nowait())
        if previous is not None:
            previous.stub.output = stage.stub.output
        self.stages.remove(stage)
        if previous is not None:
            previous.start()
        if not self.stages and not self.done:
            self.fast = True

    def kill(self) -> None:
        self._finish()
        self._count_received()
        self._count_sent()
        for stage in self.stages:
            stage.kill()

    # -- metrics -----------------------------------------------------------------------

    def _count_received(self) -> None:
        if self.metrics is not None and not self.received_counted:
            self.received_counted = True
            self.metrics[0].add_received(self.metrics[1], self.received)

    def _count_sent(self) -> None:
        if self.metrics is not None and not self.sent_counted:
            self.sent_counted = True
            self.metrics[0].add_sent(self.metrics[1], self.sent)


def _put(stage: Stage) -> Callable[[Item], None]:
    return stage.stub.input.put_nowait


class Connection:
    """A client connection and its upstream connection, joined by two links."""

    def __init__(self, proxy: Proxy, rng_up: random.Random, rng_down: random.Random) -> None:
        self.proxy = proxy
        self.rngs = (rng_up, rng_down)
        self.client = Side(self)
        self.upstream = Side(self)
        self.links: tuple[Link, Link] | None = None
        self.connecting: asyncio.Task[None] | None = None
        self.closed = False

    def side_made(self, side: Side) -> None:
        if side is self.client:
            loop = asyncio.get_running_loop()
            self.connecting = loop.create_task(self._connect())
        else:
            self._join()

    async def _connect(self) -> None:
        host, port = self.proxy.upstream_address()
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: self.upstream, host, port)
        except (OSError, ValueError) as exc:
            log.error(
                "Unable to open connection to upstream: proxy=%s upstream=%s error=%s",
                self.proxy.name,
                self.proxy.upstream,
                exc,
            )
            self.abort()

    def _join(self) -> None:
        if self.closed:
            if self.upstream.transport is not None:
                self.upstream.transport.abort()
            return
        up = Link(Direction.UPSTREAM, self.client, self.upstream, self.rngs[0])
        down = Link(Direction.DOWNSTREAM, self.upstream, self.client, self.rngs[1])
        metrics = self.proxy.metrics
        if metrics is not None:
            for link in (up, down):
                name = link.direction.name.lower()
                labels = LinkLabels(name, self.proxy.name, self.proxy.listen, self.proxy.upstream)
                link.metrics = (metrics, labels)
        self.links = (up, down)
        up.start(self.proxy.toxics_for(Direction.UPSTREAM))
        down.start(self.proxy.toxics_for(Direction.DOWNSTREAM))
        self.proxy.link_started(self)
        self.client.flush_early(up)
        if self.client.transport is not None and not self.client.transport.is_closing():
            self.client.transport.resume_reading()

    def link(self, direction: Direction) -> Link | None:
        return None if self.links is None else self.links[direction]

    def side_lost(self) -> None:
        if self.links is None:
            # The client left before upstream connected, or upstream failed.
            if self.client.lost or self.upstream.lost:
                self.abort()
            return
        if self.client.lost and self.upstream.lost:
            self._release()

    def abort(self) -> None:
        """Close both sockets now (proxy disabled or deleted, or upstream unreachable)."""
        task = self.connecting
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.transport.is_closing():
                side.transport.abort()
        self._release()

    def _release(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.links is not None:
            for link in self.links:
                link.kill()
        self.proxy.forget(self)
