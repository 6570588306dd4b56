"""Sentry events: PII scrubbed, grouped by fingerprint, tagged with run and trace ids."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from stack.postgres import PostgresCluster
from tests.integration.target.conftest import CHAOS_TOKEN, StartTarget
from tests.integration.target.sentry_sink import SentrySink

pytestmark = pytest.mark.integration

HEADERS = {"X-Chaos-Token": CHAOS_TOKEN}
DOCUMENT = {"title": "t", "body": "b", "owner_email": "carol@example.com"}


@pytest.fixture
def silent_downstream() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_injected_exception_is_scrubbed_tagged_and_fingerprinted(
    start_target: StartTarget, sentry_sink: SentrySink
) -> None:
    target = start_target(TARGET_SENTRY_DSN=sentry_sink.dsn)
    message = "card 4111 1111 1111 1111 for dave@example.com, Bearer abc.def.ghi password=hunter2"
    switched = httpx.patch(
        target.url + "/admin/chaos",
        json={
            "exception_rate": 1.0,
            "exception_type": "PaymentFailed",
            "exception_message": message,
        },
        headers=HEADERS,
    )
    assert switched.status_code == 200
    responses = [
        httpx.post(
            target.url + "/api/documents",
            json=DOCUMENT,
            headers={"X-Chaoslab-Run": "run-sentry-1", "Authorization": "Bearer secret-token-1"},
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in responses] == [500, 500, 500]
    events = sentry_sink.wait_for(3)
    assert len(events) == 3, f"expected one event per failed request, got {len(events)}"
    for event in events:
        assert event["fingerprint"] == ["chaos-exception", "PaymentFailed"]
        assert event["tags"]["run_id"] == "run-sentry-1"
        assert len(event["tags"]["trace_id"]) == 32
        assert event["contexts"]["trace"]["trace_id"] == event["tags"]["trace_id"]
        assert event["exception"]["values"][-1]["type"] == "PaymentFailed"
        assert event["release"] == "target@0.1.0"
        text = str(event)
        for secret in ("4111 1111 1111 1111", "dave@example.com", "abc.def.ghi", "hunter2",
                       "secret-token-1", "carol@example.com"):  # fmt: skip
            assert secret not in text, f"{secret!r} leaked into the Sentry event"
        assert "d***@example.com" in event["exception"]["values"][-1]["value"]
    assert len({event["tags"]["request_id"] for event in events}) == 3


async def test_pool_timeouts_group_as_one_fingerprint(
    start_target: StartTarget, sentry_sink: SentrySink
) -> None:
    target = start_target(
        TARGET_SENTRY_DSN=sentry_sink.dsn,
        TARGET_POOL_MAX="1",
        TARGET_POOL_MIN="1",
        TARGET_POOL_ACQUIRE_TIMEOUT_S="0.2",
    )
    async with httpx.AsyncClient(base_url=target.url, timeout=10) as client:
        created = await client.post("/api/documents", json=DOCUMENT)
        doc_id = created.json()["id"]
        await client.patch("/admin/chaos", json={"slow_query_s": 1.0}, headers=HEADERS)
        responses = await asyncio.gather(
            *(client.get(f"/api/documents/{doc_id}") for _ in range(4))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 503, 503, 503], statuses
    assert {r.json()["error"] for r in responses if r.status_code == 503} == {"PoolTimeout"}
    events = sentry_sink.wait_for(3)
    assert len(events) == 3
    assert {tuple(event["fingerprint"]) for event in events} == {("db-pool-timeout",)}


def test_downstream_timeout_and_db_connection_errors_have_their_fingerprints(
    start_target: StartTarget, sentry_sink: SentrySink, silent_downstream: str
) -> None:
    target = start_target(
        TARGET_SENTRY_DSN=sentry_sink.dsn,
        TARGET_DOWNSTREAM_URL=silent_downstream,
        TARGET_DOWNSTREAM_TIMEOUT_S="0.3",
    )
    response = httpx.post(target.url + "/api/documents", json=DOCUMENT, timeout=10)
    assert response.status_code == 504
    assert response.json()["error"] == "DownstreamTimeout"
    events = sentry_sink.wait_for(1)
    assert [event["fingerprint"] for event in events] == [["downstream-timeout"]]
    metrics = httpx.get(target.url + "/metrics").text
    assert (
        'downstream_request_duration_seconds_count{outcome="timeout",service="classifier"} 1.0'
        in metrics
    )


def test_database_connection_errors_group_together(
    start_target: StartTarget, sentry_sink: SentrySink
) -> None:
    with PostgresCluster() as own_postgres:
        target = start_target(
            TARGET_SENTRY_DSN=sentry_sink.dsn,
            TARGET_DSN=own_postgres.dsn(),
            TARGET_POOL_MIN="0",
            TARGET_CONNECT_TIMEOUT_S="1",
        )
        created = httpx.post(target.url + "/api/documents", json=DOCUMENT, timeout=10)
        assert created.status_code == 201
        own_postgres.stop_server()
        doc_url = target.url + f"/api/documents/{created.json()['id']}"
        # The idle connection is gone with the server; the pool must reconnect and cannot.
        responses = [httpx.get(doc_url, timeout=10) for _ in range(3)]
    assert [r.status_code for r in responses] == [503, 503, 503], [r.text for r in responses]
    assert {r.json()["error"] for r in responses} == {"DatabaseUnavailable"}
    events = sentry_sink.wait_for(3)
    assert [event["fingerprint"] for event in events] == [["db-connection-error"]] * 3


def test_no_dsn_means_no_sentry_client(start_target: StartTarget, sentry_sink: SentrySink) -> None:
    target = start_target()
    httpx.patch(target.url + "/admin/chaos", json={"exception_rate": 1.0}, headers=HEADERS)
    assert httpx.post(target.url + "/api/documents", json=DOCUMENT).status_code == 500
    assert sentry_sink.wait_for(1, timeout=2) == []
