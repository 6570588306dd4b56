"""A trace store app in-process, behind an httpx client, for the trace store's unit tests."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from stack.tracestore.app import create_app

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@asynccontextmanager
async def store_client(
    tmp_path: Path, export: bytes | None = None, clock: Callable[[], int] = time.time_ns
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app (started) and a client of it; ``export`` is posted to ``/v1/traces`` first."""
    app: FastAPI = create_app(tmp_path / "traces.sqlite3", clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://tracestore") as client,
    ):
        if export is not None:
            response = await client.post("/v1/traces", content=export, headers=PROTOBUF)
            assert response.status_code == 200, response.text
        yield app, client
