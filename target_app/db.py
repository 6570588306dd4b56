"""The PostgreSQL connection pool, instrumented for saturation.

A thin layer over ``asyncpg.Pool`` that knows how many callers wait for a
connection (asyncpg does not say), times every acquire in a
``db.pool.acquire`` span and histogram, and can be resized at run time by
swapping in a new pool while the old one drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
from opentelemetry import trace

from target_app.exceptions import DatabaseError, DatabaseUnavailable, PoolTimeout
from target_app.metrics import POOL_ACQUIRE, QUERY_DURATION, PoolSnapshot

tracer = trace.get_tracer("target_app.db")

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id          bigserial PRIMARY KEY,
    title       text        NOT NULL,
    body        text        NOT NULL,
    owner_email text        NOT NULL,
    label       text,
    confidence  double precision,
    status      text        NOT NULL DEFAULT 'classified',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS documents_owner_id_idx ON documents (owner_email, id);
"""
SCHEMA_LOCK_KEY = 0x43484153  # advisory lock id: several replicas may start at once

Connection = Any  # asyncpg ships no type information for pool proxies


class Database:
    """The service's pool of PostgreSQL connections."""

    def __init__(
        self,
        dsn: str,
        min_size: int,
        max_size: int,
        acquire_timeout: float,
        statement_timeout_ms: int,
        connect_timeout: float,
    ) -> None:
        self.dsn = dsn
        self.min_size = min(min_size, max_size)
        self.max_size = max_size
        self.configured_max_size = max_size
        self.acquire_timeout = acquire_timeout
        self.statement_timeout_ms = statement_timeout_ms
        self.connect_timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None
        self._draining: set[asyncpg.Pool] = set()
        self._in_use = 0
        self._waiting = 0
        self.schema_ready = False

    async def _create_pool(self, min_size: int, max_size: int) -> asyncpg.Pool:
        settings = {"statement_timeout": str(self.statement_timeout_ms)}
        try:
            return await asyncpg.create_pool(
                self.dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=self.connect_timeout,
                server_settings=settings,
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            raise DatabaseUnavailable(f"cannot open the pool: {exc}") from exc

    async def connect(self) -> None:
        """Open the pool; the first connections are made lazily if PostgreSQL is down."""
        try:
            self._pool = await self._create_pool(self.min_size, self.max_size)
        except DatabaseUnavailable:
            # Start anyway: readiness says 503 until PostgreSQL answers.
            self._pool = await self._create_pool(0, self.max_size)

    async def ensure_schema(self) -> None:
        """Create tables and indexes if missing (idempotent, safe across replicas)."""
        async with self.acquire("schema") as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
            await conn.execute(SCHEMA)
        self.schema_ready = True

    async def close(self) -> None:
        pools = [p for p in (self._pool, *self._draining) if p is not None]
        self._pool = None
        self._draining.clear()
        for pool in pools:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pool.close(), timeout=5)

    def snapshot(self) -> PoolSnapshot:
        """Size, capacity, in-use, idle and waiting counts right now."""
        pools = [p for p in (self._pool, *self._draining) if p is not None]
        size = sum(p.get_size() for p in pools)
        idle = sum(p.get_idle_size() for p in pools)
        return PoolSnapshot(
            size=size,
            max_size=self.max_size,
            in_use=self._in_use,
            idle=idle,
            waiting=self._waiting,
        )

    async def resize(self, max_size: int) -> None:
        """Swap in a pool of ``max_size``; the old one closes once its connections return."""
        old = self._pool
        self._pool = await self._create_pool(min(self.min_size, max_size), max_size)
        self.max_size = max_size
        if old is not None:
            self._draining.add(old)
            task = asyncio.get_running_loop().create_task(self._drain(old))
            task.add_done_callback(lambda _t: None)

    async def _drain(self, pool: asyncpg.Pool) -> None:
        try:
            await pool.close()
        finally:
            self._draining.discard(pool)

    @contextlib.asynccontextmanager
    async def acquire(self, purpose: str = "request") -> AsyncIterator[Connection]:
        """A connection for the duration of the block, with the wait measured and traced."""
        pool = self._pool
        if pool is None:
            raise DatabaseUnavailable("the pool is closed")
        with tracer.start_as_current_span("db.pool.acquire") as span:
            span.set_attribute("db.system", "postgresql")
            span.set_attribute("db.pool.max_size", self.max_size)
            span.set_attribute("db.pool.waiting_at_start", self._waiting)
            span.set_attribute("db.pool.purpose", purpose)
            self._waiting += 1
            started = time.perf_counter()
            try:
                conn = await pool.acquire(timeout=self.acquire_timeout)
            except TimeoutError as exc:
                span.set_attribute("db.pool.timed_out", True)
                raise PoolTimeout(self.acquire_timeout) from exc
            except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
                raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {exc}") from exc
            finally:
                self._waiting -= 1
                waited = time.perf_counter() - started
                POOL_ACQUIRE.observe(waited)
                span.set_attribute("db.pool.wait_ms", round(waited * 1000, 3))
        self._in_use += 1
        try:
            yield conn
        except asyncpg.QueryCanceledError as exc:
            raise DatabaseError(f"query cancelled: {exc}") from exc
        except (
            OSError,
            asyncpg.PostgresConnectionError,
            asyncpg.InterfaceError,
            asyncpg.ConnectionDoesNotExistError,
        ) as exc:
            raise DatabaseUnavailable(f"lost the PostgreSQL connection: {exc}") from exc
        finally:
            self._in_use -= 1
            with contextlib.suppress(Exception):
                await pool.release(conn)


@contextlib.contextmanager
def timed_query(operation: str) -> Iterator[None]:
    """Observe the block's duration as ``db_query_duration_seconds{operation}``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        QUERY_DURATION.labels(operation=operation).observe(time.perf_counter() - started)
