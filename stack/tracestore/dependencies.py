"""FastAPI dependencies of the trace store's routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from stack.tracestore.storage import SpanStore


def get_store(request: Request) -> SpanStore:
    """The app's :class:`SpanStore` (set by :func:`stack.tracestore.app.create_app`)."""
    store: SpanStore = request.app.state.store
    return store


def get_clock(request: Request) -> Callable[[], int]:
    """The app's clock, unix nanoseconds (set by :func:`stack.tracestore.app.create_app`)."""
    clock: Callable[[], int] = request.app.state.clock
    return clock


StoreDep = Annotated[SpanStore, Depends(get_store)]
ClockDep = Annotated[Callable[[], int], Depends(get_clock)]
