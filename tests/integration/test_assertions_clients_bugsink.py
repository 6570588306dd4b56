"""BugsinkClient against a real Bugsink fed by the real sentry-sdk (in a child interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assertions import BugsinkClient, SentryBackend, UnexpectedResponse, latest_events
from stack.bugsink import BugsinkServer
from tests.integration.polling import eventually

pytestmark = pytest.mark.integration


# A child interpreter, so sentry_sdk's global client never touches the test process.
SENDER = """
import json, sys
import sentry_sdk

spec = json.loads(sys.argv[1])
sentry_sdk.init(dsn=spec["dsn"], default_integrations=False, traces_sample_rate=0.0)


class PoolCheckoutTimeout(RuntimeError):
    pass


for n in range(spec["count"]):
    try:
        raise PoolCheckoutTimeout(f"pool exhausted #{n}")
    except PoolCheckoutTimeout as exc:
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = ["pool-exhaustion", spec["run_id"]]
            scope.set_tag("run_id", spec["run_id"])
            scope.set_level("fatal")
            sentry_sdk.capture_exception(exc)
sentry_sdk.flush(timeout=30)
"""


@pytest.fixture(scope="module")
def bugsink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BugsinkServer]:
    with BugsinkServer(tmp_path_factory.mktemp("bugsink")) as server:
        yield server


def send(dsn: str, run_id: str, count: int) -> None:
    spec = json.dumps({"dsn": dsn, "run_id": run_id, "count": count})
    subprocess.run([sys.executable, "-c", SENDER, spec], check=True, timeout=60, cwd=Path.cwd())


def test_issue_of_a_run_with_its_events(bugsink: BugsinkServer) -> None:
    run_id, other = f"it-{uuid.uuid4().hex[:8]}", f"it-{uuid.uuid4().hex[:8]}"
    send(bugsink.dsn, run_id, 3)
    send(bugsink.dsn, other, 1)
    client: SentryBackend = BugsinkClient(bugsink.url, bugsink.api_token, bugsink.project_id)

    def run_issues() -> list[object]:
        found = client.issues(tags={"run_id": run_id})
        return list(found) if found and found[0].event_count == 3 else []

    eventually(run_issues, timeout=20)
    eventually(lambda: client.issues(tags={"run_id": other}), timeout=20)
    [issue] = client.issues(tags={"run_id": run_id})
    [other_issue] = client.issues(tags={"run_id": other})
    assert other_issue.id != issue.id
    assert issue.exception_type == "PoolCheckoutTimeout"
    assert issue.value.startswith("pool exhausted #")
    assert client.issues(tags={"run_id": "never-sent"}) == []

    refs = client.events(issue.id)
    assert len(refs) == 3
    assert [r.timestamp for r in refs] == sorted((r.timestamp for r in refs), reverse=True)
    events = latest_events(client, issue.id, limit=2)
    assert len(events) == 2
    for event in events:
        assert event.tags["run_id"] == run_id
        assert event.fingerprint == ["pool-exhaustion", run_id]
        assert event.level == "fatal"
        assert event.exception_type == "PoolCheckoutTimeout"
    assert client.event(str(uuid.uuid4())) is None


def test_wrong_token_is_unexpected(bugsink: BugsinkServer) -> None:
    client = BugsinkClient(bugsink.url, uuid.uuid4().hex + "00000000", bugsink.project_id)

    with pytest.raises(UnexpectedResponse) as caught:
        client.issues()

    assert caught.value.status_code in {401, 403}
