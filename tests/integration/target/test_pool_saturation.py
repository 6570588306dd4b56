"""Under concurrent requests with a small pool, the saturation gauges tell the story."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

from stack.tracestore import TraceStoreProcess
from tests.integration.target.conftest import CHAOS_TOKEN, StartTarget, find_traces

pytestmark = pytest.mark.integration

DOCUMENT = {"title": "quarterly report", "body": "numbers", "owner_email": "ops@example.com"}


def gauge(metrics_text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", metrics_text, re.MULTILINE)
    assert match is not None, f"{name} missing from /metrics"
    return float(match.group(1))


async def test_pool_in_use_reaches_size_and_waiters_queue(
    start_target: StartTarget, trace_store: TraceStoreProcess
) -> None:
    target = start_target(TARGET_POOL_MAX="3", TARGET_POOL_MIN="1")
    since_us = str(int(time.time() * 1e6))
    slow_acquires = {
        "service": "target",
        "operation": "db.pool.acquire",
        "minDuration": "300ms",
        "start": since_us,
    }
    async with httpx.AsyncClient(base_url=target.url, timeout=30) as client:
        created = await client.post("/api/documents", json=DOCUMENT)
        assert created.status_code == 201
        doc_id = created.json()["id"]
        idle = (await client.get("/metrics")).text
        assert gauge(idle, "db_pool_max") == 3
        assert gauge(idle, "db_pool_in_use") == 0
        assert gauge(idle, "db_pool_waiting") == 0
        acquire_sum_before = gauge(idle, "db_pool_acquire_seconds_sum")
        assert find_traces(trace_store, slow_acquires, timeout=1.5) == []

        # Each request now holds its connection for 0.4 s: 12 requests on 3 connections.
        switched = await client.patch(
            "/admin/chaos", json={"slow_query_s": 0.4}, headers={"X-Chaos-Token": CHAOS_TOKEN}
        )
        assert switched.status_code == 200
        load = [asyncio.create_task(client.get(f"/api/documents/{doc_id}")) for _ in range(12)]
        peak_in_use = peak_waiting = 0.0
        deadline = time.monotonic() + 10
        while not all(task.done() for task in load) and time.monotonic() < deadline:
            text = (await client.get("/metrics")).text
            peak_in_use = max(peak_in_use, gauge(text, "db_pool_in_use"))
            peak_waiting = max(peak_waiting, gauge(text, "db_pool_waiting"))
            await asyncio.sleep(0.05)
        responses = await asyncio.gather(*load)
        assert [r.status_code for r in responses] == [200] * 12
        assert peak_in_use == 3, f"db_pool_in_use peaked at {peak_in_use}, pool size is 3"
        assert peak_waiting >= 3, f"db_pool_waiting peaked at {peak_waiting}"

        after = (await client.get("/metrics")).text
        assert gauge(after, "db_pool_in_use") == 0
        assert gauge(after, "db_pool_waiting") == 0
        # 12 requests x 0.4 s on 3 connections: callers queued for well over a second in total.
        waited = gauge(after, "db_pool_acquire_seconds_sum") - acquire_sum_before
        assert waited > 2.0, f"total acquire wait only {waited:.2f} s"

    # The wait shows in traces too: db.pool.acquire spans of 0.3 s and more.
    slow = find_traces(trace_store, slow_acquires, lambda traces: len(traces) >= 3)
    assert len(slow) >= 3, f"only {len(slow)} traces with a db.pool.acquire span >= 300 ms"


async def test_pool_can_be_resized_at_run_time(start_target: StartTarget) -> None:
    target = start_target(TARGET_POOL_MAX="4")
    headers = {"X-Chaos-Token": CHAOS_TOKEN}
    async with httpx.AsyncClient(base_url=target.url, timeout=10) as client:
        resized = await client.patch("/admin/chaos", json={"pool_max": 2}, headers=headers)
        assert resized.status_code == 200
        assert gauge((await client.get("/metrics")).text, "db_pool_max") == 2
        assert (await client.post("/api/documents", json=DOCUMENT)).status_code == 201
        reset = await client.delete("/admin/chaos", headers=headers)
        assert reset.json()["switches"]["pool_max"] is None
        assert gauge((await client.get("/metrics")).text, "db_pool_max") == 4
