"""HealthClient and LogReader against the real target service (real PostgreSQL, real classifier)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from assertions import BackendUnavailable, HealthClient, LogReader, LogRecord
from stack import apps
from stack.postgres import PostgresCluster
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration


@dataclass
class Lab:
    target: apps.AppProcess
    classifier: apps.AppProcess
    log_file: Path


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("target")
    log_file = root / "target.jsonl"
    with (
        PostgresCluster() as postgres,
        apps.classifier(root / "classifier") as classifier,
        apps.target(
            root,
            {
                "TARGET_DSN": postgres.dsn(),
                "TARGET_DOWNSTREAM_URL": classifier.url,
                "TARGET_LOG_FILE": str(log_file),
            },
        ) as target,
    ):
        yield Lab(target, classifier, log_file)


def test_log_records_of_a_run_from_an_offset(lab: Lab) -> None:
    reader = LogReader(lab.log_file)
    reader.offset = start = reader.size()
    run_id = f"it-{uuid.uuid4().hex[:8]}"
    document = {"title": "t", "body": "b", "owner_email": "someone@example.com"}

    response = httpx.post(
        f"{lab.target.url}/api/documents", json=document, headers={"X-Chaoslab-Run": run_id}
    )
    assert response.status_code == 201

    records: list[LogRecord] = []

    def whole_request() -> bool:
        """Read on until the access line, written after the response, is in."""
        records.extend(r for r in reader.poll().records if r.run_id == run_id)
        return any(r.event == "http.request" for r in records)

    eventually(whole_request)
    assert {r.event for r in records} >= {"document.created", "http.request"}
    assert all(r.timestamp is not None for r in records)
    assert all(r.offset >= start for r in records)
    assert "someone@example.com" not in str([r.fields for r in records])  # masked by the target
    assert not [r for r in reader.poll().records if r.run_id == run_id]  # read once only


def test_readiness_follows_the_classifier(lab: Lab) -> None:
    health = HealthClient(lab.target.url)

    assert health.liveness().healthy
    ready = health.readiness()
    assert ready.healthy
    assert ready.report is not None
    assert {check.name for check in ready.report.checks} == {"postgres", "classifier"}

    lab.classifier.stop()
    failing = health.readiness()

    assert failing.status_code == 503
    assert not failing.healthy
    assert failing.failing == ["classifier"]
    assert health.liveness().healthy  # a dependency outage does not make the process dead


def test_stopped_target_is_unavailable(lab: Lab) -> None:
    lab.target.stop()

    with pytest.raises(BackendUnavailable) as caught:
        HealthClient(lab.target.url, timeout=2).readiness()

    assert caught.value.url == f"{lab.target.url}/readiness"
