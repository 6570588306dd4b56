"""Prometheus metrics: golden signals, pool saturation, dependencies, errors.

Labels carry route templates (``/api/documents/{document_id}``), never raw
paths or ids, so cardinality stays bounded whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FAST_BUCKETS = (0.0005, 0.001, 0.0025, *LATENCY_BUCKETS)

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "http_requests",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from request received to response sent, by method and route template.",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
HTTP_IN_PROGRESS = Gauge(
    "http_requests_in_progress",
    "Requests being served right now, by method and route template.",
    ["method", "route"],
    registry=REGISTRY,
)
POOL_ACQUIRE = Histogram(
    "db_pool_acquire_seconds",
    "Time a caller waited for a database connection from the pool.",
    buckets=FAST_BUCKETS,
    registry=REGISTRY,
)
QUERY_DURATION = Histogram(
    "db_query_duration_seconds",
    "Database query duration, by logical operation.",
    ["operation"],
    buckets=FAST_BUCKETS,
    registry=REGISTRY,
)
DOWNSTREAM_DURATION = Histogram(
    "downstream_request_duration_seconds",
    "Calls to downstream services, by service and outcome (success, error, timeout).",
    ["service", "outcome"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
EXCEPTIONS = Counter(
    "app_exceptions",
    "Exceptions that failed a request, by exception type.",
    ["type"],
    registry=REGISTRY,
)
HEALTH_CHECK_DURATION = Histogram(
    "health_check_duration_seconds",
    "Duration of each readiness dependency check, by check.",
    ["check"],
    buckets=FAST_BUCKETS,
    registry=REGISTRY,
)
HEALTH_CHECK_UP = Gauge(
    "health_check_up",
    "1 when the last run of a readiness check passed, 0 when it failed.",
    ["check"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class PoolSnapshot:
    """What the connection pool looks like at one instant."""

    size: int
    max_size: int
    in_use: int
    idle: int
    waiting: int


class PoolCollector(Collector):
    """Reads the pool's state at scrape time, so gauges are never stale."""

    def __init__(self, snapshot: Callable[[], PoolSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[GaugeMetricFamily]:
        state = self._snapshot()
        yield GaugeMetricFamily("db_pool_size", "Connections the pool holds now.", state.size)
        yield GaugeMetricFamily("db_pool_max", "Configured maximum pool size.", state.max_size)
        yield GaugeMetricFamily(
            "db_pool_in_use", "Connections checked out by requests.", state.in_use
        )
        yield GaugeMetricFamily("db_pool_idle", "Open connections nobody uses.", state.idle)
        yield GaugeMetricFamily(
            "db_pool_waiting", "Callers queued waiting for a free connection.", state.waiting
        )


def render() -> bytes:
    """The exposition text of every metric of this process."""
    return generate_latest(REGISTRY)
