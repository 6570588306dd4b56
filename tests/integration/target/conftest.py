"""Fixtures for the target service's integration tests: real PostgreSQL, real processes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack import apps
from stack.postgres import PostgresCluster
from stack.tracestore import TraceStoreProcess
from tests.integration.polling import settled
from tests.integration.target.sentry_sink import SentrySink

CHAOS_TOKEN = "test-chaos-token"

StartTarget = Callable[..., apps.AppProcess]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def trace_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TraceStoreProcess]:
    with TraceStoreProcess(tmp_path_factory.mktemp("traces")) as store:
        yield store


@pytest.fixture(scope="session")
def classifier(
    tmp_path_factory: pytest.TempPathFactory, trace_store: TraceStoreProcess
) -> Iterator[apps.AppProcess]:
    env = {"CLASSIFIER_OTLP_ENDPOINT": trace_store.url}
    with apps.classifier(tmp_path_factory.mktemp("classifier"), env) as process:
        yield process


@pytest.fixture
def sentry_sink() -> Iterator[SentrySink]:
    with SentrySink() as sink:
        yield sink


@pytest.fixture
def start_target(
    tmp_path: Path,
    postgres: PostgresCluster,
    classifier: apps.AppProcess,
    trace_store: TraceStoreProcess,
) -> Iterator[StartTarget]:
    """Start a target service with the given ``TARGET_*`` overrides; stopped after the test."""
    started: list[apps.AppProcess] = []

    def start(**overrides: str) -> apps.AppProcess:
        env = {
            "TARGET_DSN": postgres.dsn(),
            "TARGET_DOWNSTREAM_URL": classifier.url,
            "TARGET_LOG_FILE": str(tmp_path / "target.jsonl"),
            "TARGET_CHAOS_TOKEN": CHAOS_TOKEN,
            "TARGET_OTLP_ENDPOINT": trace_store.url,
            **overrides,
        }
        process = apps.target(tmp_path, env)
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()


def read_log(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of a log file (a non-JSON line fails the test)."""
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def read_log_when(
    path: Path, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
) -> list[dict[str, Any]]:
    """The log's lines once ``done`` holds for them (a thread writes them after the response)."""
    return settled(lambda: read_log(path) if path.exists() else [], done, timeout)


Traces = list[dict[str, Any]]


def find_traces(
    store: TraceStoreProcess,
    params: Mapping[str, str],
    until: Callable[[Traces], bool] = bool,
    timeout: float = 15.0,
) -> Traces:
    """Poll the Jaeger API with ``params`` until ``until(traces)`` holds (export is batched)."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(store.url + "/api/traces", params=dict(params), timeout=5)
        response.raise_for_status()
        traces: Traces = response.json()["data"]
        if until(traces) or time.monotonic() > deadline:
            return traces
        time.sleep(0.25)
