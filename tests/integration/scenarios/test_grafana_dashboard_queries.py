"""The Grafana dashboard's queries against a real run: every panel shows data, the pool saturates.

Grafana itself cannot run here; what rots in a dashboard is its queries. So
``pool-exhaustion`` runs on the ``chaoslab up`` stack and every PromQL target
of :func:`stack.grafana.dashboard.build` is evaluated verbatim (the dashboard
uses no template variables) as a range query over the run, as Grafana would;
the Jaeger search of the traces panel goes to the stack's Jaeger-compatible
trace store. Something probes ``/readiness`` during the run, as a load
balancer or the compose healthcheck would: the readiness panel has data only then.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.grafana.dashboard import JAEGER_UID, PROMETHEUS_UID, build
from tests.integration.scenarios.conftest import UpStack, finish, journal_of

pytestmark = pytest.mark.integration

POOL_MAX = 10  # the scenario's target.pool_max


def prometheus_targets(model: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(panel title, legend, expr) of every Prometheus target of the dashboard."""
    return [
        (panel["title"], target.get("legendFormat", ""), target["expr"])
        for panel in model["panels"]
        for target in panel.get("targets", [])
        if target["datasource"]["uid"] == PROMETHEUS_UID
    ]


def query_range(prometheus: str, expr: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{prometheus}/api/v1/query_range",
        params={"query": expr, "start": start.timestamp(), "end": end.timestamp(), "step": "1"},
        timeout=30,
    )
    assert response.status_code == 200, f"{expr}\n{response.text}"
    body = response.json()
    assert body["data"]["resultType"] == "matrix", body
    series: list[dict[str, Any]] = body["data"]["result"]
    return series


def values_between(series: list[dict[str, Any]], start: datetime, end: datetime) -> list[float]:
    """Every sample of ``series`` at or after ``start`` and before ``end``."""
    lo, hi = start.timestamp(), end.timestamp()
    return [float(v) for s in series for t, v in s["values"] if lo <= float(t) < hi]


def probe_readiness(url: str, stop: threading.Event) -> None:
    with httpx.Client(timeout=5) as client:
        while not stop.wait(1.0):
            # The target restarts at the start of a run: keep probing.
            with contextlib.suppress(httpx.HTTPError):
                client.get(f"{url}/readiness")


def test_every_panel_query_returns_data_and_the_pool_panels_show_the_saturation(
    up_stack: UpStack, tmp_path: Path
) -> None:
    endpoints = up_stack.state.endpoints
    out = tmp_path / "out"
    stop = threading.Event()
    prober = threading.Thread(target=probe_readiness, args=(endpoints.target_url, stop))
    prober.start()
    try:
        proc = up_stack.start_run("pool-exhaustion", "--out", str(out))
        output = finish(proc)
    finally:
        stop.set()
        prober.join()
    assert proc.returncode == 0, output[-3000:]

    journal = journal_of(out)
    started = datetime.fromisoformat(journal["started_at"])
    finished = datetime.fromisoformat(journal["finished_at"])
    (fault,) = journal["faults"]
    fault_start = datetime.fromisoformat(fault["started_at"])
    fault_end = datetime.fromisoformat(fault["ended_at"])

    model = build()
    targets = prometheus_targets(model)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    empty = []
    for title, legend, expr in targets:
        series = query_range(endpoints.prometheus_url, expr, started, finished)
        results[title, legend] = series
        if not series:
            empty.append(f"{title} [{legend}]: {expr}")
    assert not empty, "panels without data over the run:\n" + "\n".join(empty)

    pool = "Pool connections: size / in use / idle / max"
    in_use = results[pool, "in use"]
    waiting = results["Pool waiters", "waiting"]
    assert set(values_between(results[pool, "max"], started, finished)) == {POOL_MAX}
    during_in_use = values_between(in_use, fault_start, fault_end)
    during_waiting = values_between(waiting, fault_start, fault_end)
    assert max(during_in_use) >= POOL_MAX, during_in_use
    assert max(during_waiting) > 0, during_waiting
    # Before the fault the pool never saturates. A caller may wait a moment while
    # the pool (min 2) opens connections for the first burst of users, but the
    # pool is never full and nobody waits for as long as the scenario's hold (3 s).
    before_in_use = values_between(in_use, started, fault_start)
    before_waiting = values_between(waiting, started, fault_start)
    assert before_in_use, "no pool sample before the fault"
    assert max(before_in_use) < POOL_MAX, before_in_use
    longest = run = 0
    for value in before_waiting:
        run = run + 1 if value > 0 else 0
        longest = max(longest, run)
    assert longest < 3, f"callers waited {longest} s in a row before the fault: {before_waiting}"

    firing = {s["metric"]["alertname"] for s in results["Firing alerts", "{{alertname}}"]}
    assert "DatabasePoolWaiters" in firing, firing

    # The traces panel: its Jaeger search, against the stack's Jaeger query API.
    (traces_panel,) = [
        p for p in model["panels"] if p.get("datasource", {}).get("uid") == JAEGER_UID
    ]
    (search,) = traces_panel["targets"]
    margin = timedelta(seconds=5)
    response = httpx.get(
        f"{endpoints.traces_url}/api/traces",
        params={
            "service": search["service"],
            "minDuration": search["minDuration"],
            "limit": search["limit"],
            "start": int((started - margin).timestamp() * 1_000_000),
            "end": int((finished + margin).timestamp() * 1_000_000),
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"], "the Jaeger search of the traces panel found no trace"
