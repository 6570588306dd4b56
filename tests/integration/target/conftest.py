"""Fixtures for the target service's integration tests: real PostgreSQL, real processes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stack import apps
from stack.postgres import PostgresCluster
from tests.integration.target.sentry_sink import SentrySink

CHAOS_TOKEN = "test-chaos-token"

StartTarget = Callable[..., apps.AppProcess]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    with PostgresCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[apps.AppProcess]:
    with apps.classifier(tmp_path_factory.mktemp("classifier")) as process:
        yield process


@pytest.fixture
def sentry_sink() -> Iterator[SentrySink]:
    with SentrySink() as sink:
        yield sink


@pytest.fixture
def start_target(
    tmp_path: Path, postgres: PostgresCluster, classifier: apps.AppProcess
) -> Iterator[StartTarget]:
    """Start a target service with the given ``TARGET_*`` overrides; stopped after the test."""
    started: list[apps.AppProcess] = []

    def start(**overrides: str) -> apps.AppProcess:
        env = {
            "TARGET_DSN": postgres.dsn(),
            "TARGET_DOWNSTREAM_URL": classifier.url,
            "TARGET_LOG_FILE": str(tmp_path / "target.jsonl"),
            "TARGET_CHAOS_TOKEN": CHAOS_TOKEN,
            **overrides,
        }
        process = apps.target(tmp_path, env)
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()


def read_log(path: Path) -> list[dict[str, object]]:
    """Every JSON line of a log file (a non-JSON line fails the test)."""
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
