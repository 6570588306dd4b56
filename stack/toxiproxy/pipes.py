"""How each toxic moves data: one coroutine per toxic per link, like Toxiproxy's ``Pipe``.

A :class:`Stub` is one stage of a link's chain. Its pipe coroutine reads items
from ``stub.input`` and hands them to ``stub.output`` (the next stage or the
link's sink). An item is a :class:`Chunk` of bytes or a :class:`Signal` that ends
the stream (``EOF``: close gracefully, ``RESET``: close with a TCP RST).

A stage is *interrupted* by cancelling its task (the asyncio analogue of
Toxiproxy's ``Interrupt`` channel). Every pipe catches the cancellation where it
holds data and passes that data on before it stops — "don't drop any data on
the floor", as the Go code says — so the chain can be re-plumbed without losing
or reordering bytes.
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from stack.toxiproxy.toxics import (
    Attributes,
    Bandwidth,
    Latency,
    LimitData,
    Noop,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
)


class Signal(enum.Enum):
    EOF = "eof"
    RESET = "reset"


@dataclass(slots=True)
class Chunk:
    """Bytes read from a socket and when (event-loop clock) they were read."""

    data: bytes
    stamp: float


Item = Chunk | Signal


def _drop(item: Item) -> None:
    """Output of a stage that is not wired yet."""


@dataclass(eq=False)
class Stub:
    """One stage of a link: input queue, output callable and per-connection state."""

    input: asyncio.Queue[Item]
    rng: random.Random
    retire: Callable[[int], None]
    output: Callable[[Item], None] = _drop
    transmitted: int = 0  # limit_data's per-connection state, kept across restarts
    closed: bool = False

    def close(self, signal: Signal = Signal.EOF) -> None:
        self.closed = True
        self.output(signal)

    def discard(self, chunk: Chunk) -> None:
        """Data a toxic drops on purpose: stop counting it as in flight."""
        self.retire(len(chunk.data))


def _now() -> float:
    return asyncio.get_running_loop().time()


async def noop(stub: Stub, _: object = None) -> None:
    while True:
        item = await stub.input.get()
        if isinstance(item, Signal):
            stub.close(item)
            return
        stub.output(item)


async def latency(stub: Stub, attrs: Latency) -> None:
    while True:
        item = await stub.input.get()
        if isinstance(item, Signal):
            stub.close(item)
            return
        delay = attrs.latency
        if attrs.jitter > 0:
            delay += stub.rng.randrange(attrs.jitter * 2) - attrs.jitter
        due = item.stamp + delay / 1000.0
        wait = due - _now()
        if wait > 0:
            try:
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                stub.output(item)  # exit fast without the delay, keep the data
                raise
        item.stamp = due
        stub.output(item)


async def bandwidth(stub: Stub, attrs: Bandwidth) -> None:
    rate = attrs.rate  # KB/s == bytes per millisecond
    sleep = 0.0
    while True:
        item = await stub.input.get()
        if isinstance(item, Signal):
            stub.close(item)
            return
        if rate <= 0:
            stub.output(item)
            continue
        data = item.data
        sleep += len(data) / (rate * 1000.0)
        step = rate * 100  # bytes per 100 ms slice, as Toxiproxy splits slow links
        while len(data) > step:
            try:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                stub.output(Chunk(data, item.stamp))
                raise
            stub.output(Chunk(data[:step], item.stamp))
            data = data[step:]
            sleep -= 0.1
        started = _now()
        try:
            await asyncio.sleep(max(sleep, 0.0))
        except asyncio.CancelledError:
            stub.output(Chunk(data, item.stamp))
            raise
        sleep -= _now() - started  # carry the timer's error into the next chunk
        stub.output(Chunk(data, item.stamp))


async def slow_close(stub: Stub, attrs: SlowClose) -> None:
    while True:
        item = await stub.input.get()
        if isinstance(item, Signal):
            await asyncio.sleep(attrs.delay / 1000.0)
            stub.close(item)
            return
        stub.output(item)


async def timeout(stub: Stub, attrs: Timeout) -> None:
    # Toxiproxy restarts its timer on every chunk (time.After inside the loop).
    limit = attrs.timeout / 1000.0 if attrs.timeout > 0 else None
    while True:
        try:
            item = await asyncio.wait_for(stub.input.get(), limit)
        except TimeoutError:
            stub.close()
            return
        if isinstance(item, Signal):
            stub.close(item)
            return
        stub.discard(item)  # drop the data on the ground


async def reset_peer(stub: Stub, attrs: ResetPeer) -> None:
    item = await stub.input.get()
    if isinstance(item, Chunk):
        stub.discard(item)
    await asyncio.sleep(attrs.timeout / 1000.0)
    stub.close(Signal.RESET)


def slice_offsets(rng: random.Random, attrs: Slicer, start: int, end: int) -> list[int]:
    """Toxiproxy's recursive halving: [s0, e0, s1, e1, ...] of roughly even slices."""
    if end - start - attrs.average_size <= attrs.size_variation or attrs.average_size <= 0:
        return [start, end]
    variation = 0
    if attrs.size_variation > 0:
        variation = rng.randrange(attrs.size_variation * 2) - attrs.size_variation
    mid = start + (end - start) // 2 + variation
    mid = min(max(mid, start + 1), end - 1)
    return slice_offsets(rng, attrs, start, mid) + slice_offsets(rng, attrs, mid, end)


async def slicer(stub: Stub, attrs: Slicer) -> None:
    while True:
        item = await stub.input.get()
        if isinstance(item, Signal):
            stub.close(item)
            return
        offsets = slice_offsets(stub.rng, attrs, 0, len(item.data))
        for i in range(1, len(offsets), 2):
            stub.output(Chunk(item.data[offsets[i - 1] : offsets[i]], item.stamp))
            try:
                await asyncio.sleep(attrs.delay / 1_000_000)
            except asyncio.CancelledError:
                rest = item.data[offsets[i] :]
                if rest:
                    stub.output(Chunk(rest, item.stamp))
                raise


async def limit_data(stub: Stub, attrs: LimitData) -> None:
    while True:
        item = await stub.input.get()
        if isinstance(item, Signal):
            stub.close(item)
            return
        remaining = max(attrs.bytes - stub.transmitted, 0)
        if remaining < len(item.data):
            stub.retire(len(item.data) - remaining)
            item = Chunk(item.data[:remaining], item.stamp)
        if item.data:
            stub.output(item)
            stub.transmitted += len(item.data)
        if attrs.bytes - stub.transmitted <= 0:
            stub.close()
            return


PipeFactory = Callable[[Stub, Any], Coroutine[Any, Any, None]]

PIPES: dict[type[Attributes], PipeFactory] = {
    Noop: noop,
    Latency: latency,
    Bandwidth: bandwidth,
    SlowClose: slow_close,
    Timeout: timeout,
    ResetPeer: reset_peer,
    Slicer: slicer,
    LimitData: limit_data,
}


@dataclass(eq=False)
class Stage:
    """A stub running one toxic, restartable (interrupt, re-plumb, run again)."""

    stub: Stub
    name: str
    attributes: Attributes
    toxicity: float
    task: asyncio.Task[None] | None = field(default=None)

    def start(self) -> None:
        """Run the toxic, or a noop with probability 1 - toxicity (rolled per run)."""
        if self.stub.closed:
            return
        if self.stub.rng.random() < self.toxicity:
            coro = PIPES[type(self.attributes)](self.stub, self.attributes)
        else:
            coro = noop(self.stub)
        self.task = asyncio.get_running_loop().create_task(coro)

    async def interrupt(self) -> None:
        """Stop the running pipe; it hands on any data it holds before it ends."""
        task, self.task = self.task, None
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.wait([task])

    def kill(self) -> None:
        """Stop without flushing (the connection is being torn down)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = None
