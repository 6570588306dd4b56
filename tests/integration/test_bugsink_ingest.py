"""Real Bugsink, real sentry-sdk: events go in by DSN and come out of the canonical API.

Read back through the lab's one Bugsink client, :class:`assertions.BugsinkClient`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assertions import BugsinkClient, SentryIssue
from stack.bugsink import BugsinkServer
from tests.integration.polling import settled

pytestmark = pytest.mark.integration


# Runs in a child interpreter so that sentry_sdk's global client never touches
# the test process (or other tests that initialise the SDK).
SENDER = """
import json, sys
import sentry_sdk

spec = json.loads(sys.argv[1])
sentry_sdk.init(
    dsn=spec["dsn"],
    transport_queue_size=5000,
    default_integrations=False,
    traces_sample_rate=0.0,
)


class PoolExhausted(RuntimeError):
    pass


ids = []
for event in spec["events"]:
    try:
        raise PoolExhausted(event["message"])
    except PoolExhausted as exc:
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = event["fingerprint"]
            scope.set_tag("run_id", spec["run_id"])
            ids.append(sentry_sdk.capture_exception(exc))
sentry_sdk.flush(timeout=60)
print(json.dumps(ids))
"""


def send_exceptions(
    dsn: str, run_id: str, events: list[tuple[list[str], str]], senders: int = 1
) -> list[str]:
    """Raise and capture ``PoolExhausted(message)`` once per (fingerprint, message).

    ``senders`` child processes share the events (round robin) and send concurrently.
    """
    children = []
    for n in range(senders):
        spec = {
            "dsn": dsn,
            "run_id": run_id,
            "events": [{"fingerprint": fp, "message": msg} for fp, msg in events[n::senders]],
        }
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", SENDER, json.dumps(spec)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    ids: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        ids.extend(json.loads(out.strip().splitlines()[-1]))
    assert len(ids) == len(events), ids
    assert all(ids), ids
    return ids


@pytest.fixture(scope="module")
def bugsink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BugsinkServer]:
    server = BugsinkServer(tmp_path_factory.mktemp("bugsink-state"))
    timings = server.start(timeout=60)
    print(f"\nbugsink started in {timings.total_s:.2f} s ({timings})")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(bugsink: BugsinkServer) -> Iterator[BugsinkClient]:
    with BugsinkClient(bugsink.url, bugsink.api_token, bugsink.project_id) as client:
        yield client


def issues_for(api: BugsinkClient, run_id: str) -> Callable[[], list[SentryIssue]]:
    return lambda: api.issues(tags={"run_id": run_id})


def test_exception_event_is_visible_with_tag_fingerprint_and_type(
    bugsink: BugsinkServer, api: BugsinkClient
) -> None:
    run_id = str(uuid.uuid4())
    fingerprint = [f"pool-exhausted-{run_id}"]
    (sdk_id,) = send_exceptions(bugsink.dsn, run_id, [(fingerprint, "pool of 10 exhausted")])

    issues = settled(issues_for(api, run_id), lambda found: len(found) == 1)
    assert [i.exception_type for i in issues] == ["PoolExhausted"], issues
    issue = issues[0]
    assert issue.value == "pool of 10 exhausted"
    assert issue.event_count == 1
    assert [(t.key, t.value) for t in api.issue_tags(issue.id, key="run_id")] == [
        ("run_id", run_id)
    ]

    events = api.events(issue.id)
    assert [uuid.UUID(e.event_id) for e in events] == [uuid.UUID(sdk_id)]
    detail = api.event(events[0].id)
    assert detail is not None
    assert detail.tags.get("run_id") == run_id
    assert detail.fingerprint == fingerprint
    assert detail.exception_types == ["PoolExhausted"]

    looked_up = api.lookup(sdk_id)
    assert looked_up is not None
    assert looked_up.id == detail.id


def test_tag_filter_is_not_vacuous(bugsink: BugsinkServer, api: BugsinkClient) -> None:
    run_id = str(uuid.uuid4())
    send_exceptions(bugsink.dsn, run_id, [([f"fp-{run_id}"], "boom")])
    assert len(settled(issues_for(api, run_id), bool)) == 1
    assert api.issues(tags={"run_id": str(uuid.uuid4())}) == []


def test_same_fingerprint_groups_into_one_issue_with_two_events(
    bugsink: BugsinkServer, api: BugsinkClient
) -> None:
    run_id = str(uuid.uuid4())
    fingerprint = [f"slow-dependency-{run_id}"]
    send_exceptions(
        bugsink.dsn,
        run_id,
        [(fingerprint, "classifier took 8.1 s"), (fingerprint, "classifier took 11.9 s")],
    )
    issues = settled(
        issues_for(api, run_id),
        lambda found: sum(i.event_count for i in found) >= 2,
    )
    assert len(issues) == 1, issues
    assert issues[0].event_count == 2
    events = api.events(issues[0].id)
    assert len(events) == 2
    messages = {
        value.value
        for event in events
        for value in (api.event(event.id) or pytest.fail("no event")).exceptions
    }
    assert messages == {"classifier took 8.1 s", "classifier took 11.9 s"}


def test_different_fingerprint_makes_a_second_issue(
    bugsink: BugsinkServer, api: BugsinkClient
) -> None:
    run_id = str(uuid.uuid4())
    send_exceptions(
        bugsink.dsn,
        run_id,
        [([f"first-{run_id}"], "same message"), ([f"second-{run_id}"], "same message")],
    )
    issues = settled(issues_for(api, run_id), lambda f: len(f) >= 2)
    assert len(issues) == 2, issues
    assert [i.event_count for i in issues] == [1, 1]


def test_storm_is_not_rate_limited(bugsink: BugsinkServer, api: BugsinkClient) -> None:
    """More events than Bugsink's default per-project 5-minute quota would let through."""
    run_id = str(uuid.uuid4())
    storm = 1100  # Bugsink's default MAX_EVENTS_PER_PROJECT_PER_5_MINUTES is 1 000
    started = time.monotonic()
    events = [([f"storm-{run_id}"], f"e{n}") for n in range(storm)]
    send_exceptions(bugsink.dsn, run_id, events, senders=4)
    issues = settled(
        issues_for(api, run_id),
        lambda found: sum(i.event_count for i in found) >= storm,
        timeout=30,
    )
    print(f"\n{storm} events sent and digested in {time.monotonic() - started:.1f} s")
    assert [i.event_count for i in issues] == [storm]


def test_state_dir_holds_config_and_databases(bugsink: BugsinkServer) -> None:
    conf = (bugsink.state_dir / "bugsink_conf.py").read_text()
    assert f"\"BASE_URL\": 'http://127.0.0.1:{bugsink.port}'" in conf
    assert '"PHONEHOME": False' in conf
    assert (bugsink.state_dir / "data" / "db.sqlite3").is_file()
    assert bugsink.dsn.startswith("http://")
    assert bugsink.dsn.endswith(f"@127.0.0.1:{bugsink.port}/{bugsink.project_id}")
    assert Path(bugsink.log_path).is_file()
