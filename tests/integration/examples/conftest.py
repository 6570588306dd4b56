"""Fixtures for the bookshop example: real PostgreSQL, pricing and bookshop processes.

The services are started exactly as a person would (``python -m bookshop`` from
``examples/bookshop``), on free loopback ports, and stopped by PID afterwards.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stack.ports import LOOPBACK, free_port
from stack.postgres import PostgresCluster
from stack.process import ManagedProcess

BOOKSHOP_DIR = Path(__file__).resolve().parents[3] / "examples" / "bookshop"
START_TIMEOUT_S = 40.0


@dataclass
class Service:
    """A started ``python -m <module>`` process and its URL."""

    process: ManagedProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        self.process.stop(grace=10.0)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_service(module: str, log_dir: Path, env: dict[str, str]) -> Service:
    """Start ``python -m module`` from examples/bookshop; return once /healthz answers 200."""
    port = free_port()
    argv = [sys.executable, "-m", module, "--host", LOOPBACK, "--port", str(port)]
    process = ManagedProcess(
        module,
        argv,
        log_dir / f"{module}-{port}.out",
        env={**os.environ, **env},
        cwd=BOOKSHOP_DIR,
    )
    process.start()
    service = Service(process, port)
    try:
        process.wait_healthy(lambda: _answers(service.url + "/healthz"), START_TIMEOUT_S)
    except BaseException:
        service.stop()
        raise
    return service


StartService = Callable[..., Service]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Callable[[str, dict[str, str]], Service]]:
    """``start(module, env)``: every service started through it is stopped after the test."""
    started: list[Service] = []

    def start(module: str, env: dict[str, str]) -> Service:
        service = start_service(module, tmp_path, env)
        started.append(service)
        return service

    try:
        yield start
    finally:
        for service in reversed(started):
            service.stop()


@pytest.fixture
def start_pricing(
    services: Callable[[str, dict[str, str]], Service],
) -> StartService:
    def start(latency_ms: float = 5, **env: str) -> Service:
        return services("pricing", {"PRICING_LATENCY_MS": str(latency_ms), **env})

    return start


@pytest.fixture
def start_bookshop(
    tmp_path: Path, services: Callable[[str, dict[str, str]], Service]
) -> StartService:
    """``start(database_url, pricing_url, **env)``; logs go to ``tmp_path/bookshop.jsonl``."""

    def start(database_url: str, pricing_url: str, **env: str) -> Service:
        return services(
            "bookshop",
            {
                "BOOKSHOP_DATABASE_URL": database_url,
                "BOOKSHOP_PRICING_URL": pricing_url,
                "BOOKSHOP_LOG_FILE": str(tmp_path / "bookshop.jsonl"),
                "SENTRY_DSN": "",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
                **env,
            },
        )

    return start


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every line of a JSON-lines log (a line that is not a JSON object fails the test)."""
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            assert isinstance(record, dict), line
            records.append(record)
    return records


def metric_value(metrics_text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition (0 when absent)."""
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def wait_for(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
