"""Readiness follows PostgreSQL; liveness never consults a dependency."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack import apps
from stack.ports import free_port
from stack.postgres import PostgresCluster

pytestmark = pytest.mark.integration


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, since the test stops it."""
    with PostgresCluster() as cluster:
        yield cluster


def wait_status(url: str, status: int, timeout: float = 20.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, timeout=5)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_readiness_tracks_postgres_and_liveness_stays_up(
    tmp_path: Path, own_postgres: PostgresCluster, classifier: apps.AppProcess
) -> None:
    env = {
        "TARGET_DSN": own_postgres.dsn(),
        "TARGET_DOWNSTREAM_URL": classifier.url,
        "TARGET_HEALTH_CHECK_TIMEOUT_S": "1",
    }
    with apps.target(tmp_path, env) as target:
        ready = httpx.get(target.url + "/readiness")
        assert ready.status_code == 200, ready.text
        assert {check["name"] for check in ready.json()["checks"]} == {"postgres", "classifier"}

        own_postgres.stop_server()
        down = wait_status(target.url + "/readiness", 503)
        assert down.status_code == 503, down.text
        body = down.json()
        assert body["failing"] == ["postgres"]
        failed = next(check for check in body["checks"] if check["name"] == "postgres")
        assert failed["ok"] is False
        assert failed["error"]
        assert httpx.get(target.url + "/liveness").status_code == 200

        own_postgres.start_server()
        back = wait_status(target.url + "/readiness", 200)
        assert back.status_code == 200, back.text
        assert httpx.get(target.url + "/liveness").status_code == 200

        metrics = httpx.get(target.url + "/metrics").text
        assert 'health_check_duration_seconds_count{check="postgres"}' in metrics


def test_readiness_names_the_classifier_when_it_is_gone(
    tmp_path: Path, postgres: PostgresCluster
) -> None:
    dead_port = free_port()
    env = {
        "TARGET_DSN": postgres.dsn(),
        "TARGET_DOWNSTREAM_URL": f"http://127.0.0.1:{dead_port}",
        "TARGET_HEALTH_CHECK_TIMEOUT_S": "1",
    }
    with apps.target(tmp_path, env) as target:
        response = httpx.get(target.url + "/readiness")
        assert response.status_code == 503
        assert response.json()["failing"] == ["classifier"]
        assert httpx.get(target.url + "/startup").status_code == 200
