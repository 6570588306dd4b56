"""The trace store's ASGI app: OTLP receiver + Jaeger query API + trace pages + health."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from stack.tracestore import api, receiver, ui
from stack.tracestore.dependencies import StoreDep
from stack.tracestore.exceptions import InvalidQuery
from stack.tracestore.storage import Retention, SpanStore


async def _invalid_query(request: Request, exc: Exception) -> JSONResponse:
    return api.jaeger_error(400, str(exc))


def create_app(
    db_path: Path | str,
    retention: Retention | None = None,
    *,
    clock: Callable[[], int] = time.time_ns,
) -> FastAPI:
    """The trace store app over the SQLite file ``db_path`` (created when missing).

    The store opens when the app starts (ASGI lifespan) and closes, after
    writing what is queued, when it shuts down. ``clock`` (unix nanoseconds) is
    "now" for searches without a time bound and for the store's retention.
    """
    store = SpanStore(Path(db_path), retention, clock=clock)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store.open()
        try:
            yield
        finally:
            await run_in_threadpool(store.close)

    app = FastAPI(
        title="chaoslab trace store",
        summary="OTLP/HTTP trace receiver with a Jaeger query API subset",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.clock = clock
    app.add_exception_handler(InvalidQuery, _invalid_query)
    app.include_router(receiver.router)
    app.include_router(api.router)
    app.include_router(ui.router)

    @app.get("/healthz")
    def healthz(store: StoreDep) -> JSONResponse:
        if not store.running:
            return JSONResponse({"status": "down"}, status_code=503)
        return JSONResponse({"status": "ok"})

    return app


__all__ = ["create_app"]
