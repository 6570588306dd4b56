"""Toxic decoding (Toxiproxy's checks and messages) and pipe semantics, without sockets."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from stack.toxiproxy.exceptions import ApiError
from stack.toxiproxy.pipes import Chunk, Signal, Stage, Stub, slice_offsets
from stack.toxiproxy.proxy import join_address, split_address
from stack.toxiproxy.toxics import (
    Latency,
    LimitData,
    Slicer,
    Timeout,
    Toxic,
    decode_new_toxic,
    decode_toxic_update,
)


def _never(_: str) -> bool:
    return False


def test_defaults_follow_toxiproxy() -> None:
    toxic = decode_new_toxic(b'{"type": "latency"}', _never)
    assert toxic == Toxic("latency_downstream", "latency", "downstream", 1.0, Latency())
    assert toxic.to_json() == {
        "attributes": {"latency": 0, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
    }


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"", 400, "bad request body: EOF"),
        (b"{", 400, "bad request body: "),
        (b"[]", 400, "bad request body: json: cannot unmarshal array"),
        (b'{"type": "nope"}', 400, "invalid toxic type"),
        (b'{"type": "latency", "stream": "sideways"}', 400, "stream was invalid"),
        (b'{"type": "latency", "attributes": {"latency": 1.5}}', 400, "bad request body: json"),
        (b'{"type": "latency", "attributes": {"latency": true}}', 400, "bad request body: json"),
        (b'{"type": "slicer", "attributes": []}', 400, "bad request body: json"),
        (b'{"type": "latency", "toxicity": "all"}', 400, "bad request body: json"),
        (b'{"type": 3}', 400, "bad request body: json: cannot unmarshal number"),
    ],
)
def test_bad_input(body: bytes, status: int, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_new_toxic(body, _never)
    assert caught.value.status == status
    assert caught.value.message.startswith(message)


def test_stream_is_checked_before_type_and_duplicates_after() -> None:
    with pytest.raises(ApiError, match="stream was invalid"):
        decode_new_toxic(b'{"type": "nope", "stream": "x"}', _never)
    with pytest.raises(ApiError, match="invalid toxic type"):
        decode_new_toxic(b'{"type": "nope"}', lambda name: True)
    with pytest.raises(ApiError, match="toxic already exists") as caught:
        decode_new_toxic(b'{"type": "latency"}', lambda name: name == "latency_downstream")
    assert caught.value.status == 409
    assert caught.value.body() == b'{"error":"toxic already exists","status":409}\n'


def test_update_merges_attributes_and_keeps_toxicity() -> None:
    toxic = decode_new_toxic(
        b'{"type": "slicer", "toxicity": 0.25, "attributes": {"average_size": 10, "delay": 5}}',
        _never,
    )
    updated = decode_toxic_update(toxic, b'{"attributes": {"size_variation": 3}, "junk": 1}')
    assert updated.attributes == Slicer(average_size=10, size_variation=3, delay=5)
    assert updated.toxicity == 0.25
    assert decode_toxic_update(toxic, b'{"toxicity": 1}').toxicity == 1.0


def test_slice_offsets_cover_the_chunk() -> None:
    rng = random.Random(1)
    attrs = Slicer(average_size=10, size_variation=4)
    offsets = slice_offsets(rng, attrs, 0, 1000)
    assert offsets[0] == 0
    assert offsets[-1] == 1000
    pairs = list(zip(offsets[::2], offsets[1::2], strict=True))
    assert all(end > start for start, end in pairs)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pairs))
    assert len(pairs) >= 50
    assert slice_offsets(rng, Slicer(average_size=0), 0, 5) == [0, 5]


def test_addresses() -> None:
    assert split_address("127.0.0.1:80") == ("127.0.0.1", 80)
    assert split_address("[::1]:0") == ("::1", 0)
    assert split_address(":9") == ("", 9)
    assert join_address("::", 5) == "[::]:5"
    with pytest.raises(ValueError, match="missing port"):
        split_address("localhost")


def _stage(attrs: Latency | LimitData | Timeout, sink: list[object]) -> Stage:
    stub = Stub(input=asyncio.Queue(), rng=random.Random(0), retire=lambda n: None)
    stub.output = sink.append
    return Stage(stub, "t", attrs, 1.0)


async def test_interrupted_latency_passes_on_what_it_holds() -> None:
    out: list[object] = []
    stage = _stage(Latency(latency=10_000), out)
    stage.start()
    now = asyncio.get_running_loop().time()
    for data in (b"a", b"b"):
        stage.stub.input.put_nowait(Chunk(data, now))
    await asyncio.sleep(0.05)
    assert out == []
    await stage.interrupt()
    assert [c.data for c in out if isinstance(c, Chunk)] == [b"a"], "held chunk flushed, in order"
    assert stage.stub.input.qsize() == 1, "the rest stays queued for the next stage"


async def test_limit_data_truncates_then_closes() -> None:
    out: list[object] = []
    stage = _stage(LimitData(bytes=5), out)
    stage.start()
    now = asyncio.get_running_loop().time()
    stage.stub.input.put_nowait(Chunk(b"abc", now))
    stage.stub.input.put_nowait(Chunk(b"defgh", now))
    await asyncio.sleep(0.01)
    assert [c.data if isinstance(c, Chunk) else c for c in out] == [b"abc", b"de", Signal.EOF]


async def test_timeout_drops_and_closes() -> None:
    out: list[object] = []
    stage = _stage(Timeout(timeout=30), out)
    stage.start()
    stage.stub.input.put_nowait(Chunk(b"dropped", asyncio.get_running_loop().time()))
    await asyncio.sleep(0.3)
    assert out == [Signal.EOF]


async def test_toxicity_zero_runs_a_noop() -> None:
    out: list[object] = []
    stage = _stage(Latency(latency=10_000), out)
    stage.toxicity = 0.0
    stage.start()
    stage.stub.input.put_nowait(Chunk(b"x", asyncio.get_running_loop().time()))
    await asyncio.sleep(0.01)
    assert len(out) == 1
    await stage.interrupt()
