"""FastAPI dependencies of the trace store's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from stack.tracestore.storage import SpanStore


def get_store(request: Request) -> SpanStore:
    """The app's :class:`SpanStore` (set by :func:`stack.tracestore.app.create_app`)."""
    store: SpanStore = request.app.state.store
    return store


StoreDep = Annotated[SpanStore, Depends(get_store)]
