"""The webhook's HTTP routes, served in-process on an ephemeral loopback port."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from stack.alerting import NotificationLog
from stack.alerting.webhook_server import WebhookServer

PAYLOAD = {
    "version": "4",
    "status": "firing",
    "receiver": "chaoslab-webhook",
    "alerts": [{"status": "firing", "labels": {"alertname": "TargetDown"}}],
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    out = tmp_path / "notifications.jsonl"
    httpd = WebhookServer(("127.0.0.1", 0), NotificationLog(out))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", out
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()


def test_healthz(server: tuple[str, Path]) -> None:
    url, _ = server
    response = httpx.get(url + "/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_a_posted_notification_is_recorded_and_listed(server: tuple[str, Path]) -> None:
    url, out = server
    before = datetime.now(UTC)
    response = httpx.post(url + "/alerts", json=PAYLOAD)
    assert response.status_code == 200, response.text
    [line] = out.read_text().splitlines()
    record = json.loads(line)
    assert record["payload"] == PAYLOAD
    received = datetime.fromisoformat(record["received_at"])
    assert before - timedelta(seconds=1) <= received <= datetime.now(UTC)
    listed = httpx.get(url + "/notifications").json()
    assert [item["payload"]["alerts"][0]["labels"]["alertname"] for item in listed] == [
        "TargetDown"
    ]


def test_since_filters_the_listing(server: tuple[str, Path]) -> None:
    url, _ = server
    assert httpx.post(url + "/alerts", json=PAYLOAD).status_code == 200
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert httpx.get(url + "/notifications", params={"since": future}).json() == []
    assert len(httpx.get(url + "/notifications", params={"since": past}).json()) == 1


def test_bad_input_is_a_client_error(server: tuple[str, Path]) -> None:
    url, out = server
    assert httpx.post(url + "/alerts", content=b"{}").status_code == 400
    assert httpx.post(url + "/alerts", content=b"nope").status_code == 400
    assert httpx.get(url + "/notifications", params={"since": "soon"}).status_code == 400
    assert httpx.get(url + "/elsewhere").status_code == 404
    assert httpx.post(url + "/elsewhere", json=PAYLOAD).status_code == 404
    assert not out.exists()
