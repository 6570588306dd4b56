"""Dependency checks behind ``/readiness``: run in parallel, each under its own timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg

from target_app.metrics import HEALTH_CHECK_DURATION, HEALTH_CHECK_UP
from target_app.models import CheckResult

Check = Callable[[], Awaitable[None]]


async def run_check(name: str, check: Check, limit_s: float) -> CheckResult:
    started = time.perf_counter()
    error: str | None = None
    try:
        await asyncio.wait_for(check(), timeout=limit_s)
    except TimeoutError:
        error = f"timed out after {limit_s:g} s"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    HEALTH_CHECK_DURATION.labels(check=name).observe(seconds)
    HEALTH_CHECK_UP.labels(check=name).set(0 if error else 1)
    return CheckResult(
        name=name, ok=error is None, duration_ms=round(seconds * 1000, 2), error=error
    )


async def run_checks(checks: dict[str, Check], limit_s: float) -> list[CheckResult]:
    return list(
        await asyncio.gather(*(run_check(name, check, limit_s) for name, check in checks.items()))
    )


def postgres_check(dsn: str, timeout: float) -> Check:
    """A fresh connection and ``SELECT 1``: independent of the (possibly saturated) pool."""

    async def check() -> None:
        conn = await asyncpg.connect(dsn, timeout=timeout)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close(timeout=timeout)

    return check
