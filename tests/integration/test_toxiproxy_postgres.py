"""PostgreSQL through the proxy with asyncpg: the faults the lab injects, seen by a real client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import asyncpg
import pytest

from stack.ports import LOOPBACK
from stack.postgres import DATABASE, PostgresCluster

# Rewrite the support module's asserts too: register it before it is imported.
pytest.register_assert_rewrite("tests.integration.toxiproxy_support")
from tests.integration.toxiproxy_support import (  # noqa: E402 - imported after register_assert_rewrite on purpose
    ServerUnderTest,
)

pytestmark = pytest.mark.integration
# The server/upstream fixtures, parametrized over every server kind.
pytest_plugins = ["tests.integration.toxiproxy_support"]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def pg_port(toxiproxy: ServerUnderTest, postgres: PostgresCluster) -> int:
    return toxiproxy.create_proxy("postgres", postgres.port)


async def _connect(port: int) -> asyncpg.Connection:
    return await asyncpg.connect(
        host=LOOPBACK, port=port, user="postgres", database=DATABASE, timeout=10
    )


async def _timed_select(conn: asyncpg.Connection) -> float:
    started = time.perf_counter()
    assert await conn.fetchval("SELECT 1") == 1
    return time.perf_counter() - started


async def test_queries_pass_through(pg_port: int) -> None:
    conn = await _connect(pg_port)
    try:
        assert await conn.fetchval("SELECT $1::int + 1", 41) == 42
        rows = await conn.fetch("SELECT generate_series(1, 20000) AS n")
        assert sum(r["n"] for r in rows) == 20000 * 20001 // 2
    finally:
        await conn.close()


async def test_latency_slows_queries(toxiproxy: ServerUnderTest, pg_port: int) -> None:
    conn = await _connect(pg_port)
    try:
        base = min([await _timed_select(conn) for _ in range(3)])
        await asyncio.to_thread(toxiproxy.add_toxic, "postgres", "latency", {"latency": 200})
        added = await _timed_select(conn) - base
    finally:
        await conn.close()
    assert 0.150 <= added <= 0.600, f"added {added * 1000:.0f} ms for a 200 ms latency toxic"


async def test_reset_peer_is_a_connection_error(toxiproxy: ServerUnderTest, pg_port: int) -> None:
    await asyncio.to_thread(toxiproxy.add_toxic, "postgres", "reset_peer", {"timeout": 0})
    with pytest.raises((ConnectionResetError, asyncpg.exceptions.ConnectionDoesNotExistError)):
        await _connect(pg_port)  # the server's first answer triggers the reset


async def test_timeout_toxic_hangs_queries(toxiproxy: ServerUnderTest, pg_port: int) -> None:
    conn = await _connect(pg_port)
    try:
        await asyncio.to_thread(
            toxiproxy.add_toxic, "postgres", "timeout", {"timeout": 0}, "upstream"
        )
        with pytest.raises(TimeoutError):
            await conn.fetchval("SELECT 1", timeout=0.8)
    finally:
        conn.terminate()


async def test_disabled_proxy_refuses_connections(toxiproxy: ServerUnderTest, pg_port: int) -> None:
    conn = await _connect(pg_port)
    await asyncio.to_thread(toxiproxy.http.patch, "/proxies/postgres", json={"enabled": False})
    closed = (
        ConnectionError,
        asyncpg.exceptions.ConnectionDoesNotExistError,
        asyncpg.exceptions.InterfaceError,  # asyncpg already saw the close: "connection is closed"
    )
    with pytest.raises(closed):
        await conn.fetchval("SELECT 1", timeout=5)
    conn.terminate()
    with pytest.raises(OSError, match=r"refused|Connect call failed"):
        await _connect(pg_port)
