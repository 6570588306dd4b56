"""The webhook's JSON-lines record of notifications."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from stack.alerting import NotificationLog


def body(name: str, status: str = "firing", **extra: object) -> bytes:
    alert = {"status": status, "labels": {"alertname": name}, "startsAt": "2024-05-01T12:00:00Z"}
    return json.dumps({"status": status, "alerts": [alert], **extra}).encode()


def test_each_notification_is_one_line_with_its_utc_arrival_time(tmp_path: Path) -> None:
    log = NotificationLog(tmp_path / "n.jsonl")
    arrived = datetime(2024, 5, 1, 14, 0, 0, 250000, tzinfo=UTC)
    log.append(body("TargetDown"), received_at=arrived)
    log.append(body("HighErrorRate"))
    lines = (tmp_path / "n.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["received_at"] == "2024-05-01T14:00:00.250000Z"
    assert first["payload"]["alerts"][0]["labels"]["alertname"] == "TargetDown"
    second = datetime.fromisoformat(json.loads(lines[1])["received_at"])
    assert second.utcoffset() == timedelta(0)


def test_the_payload_is_stored_as_sent(tmp_path: Path) -> None:
    log = NotificationLog(tmp_path / "n.jsonl")
    sent = body("TargetDown", futureField=[1, 2])
    sent = sent.replace(b"12:00:00Z", b"12:00:00.123456789Z")
    log.append(sent)
    stored = json.loads((tmp_path / "n.jsonl").read_text())["payload"]
    assert stored == json.loads(sent)


def test_read_returns_records_oldest_first_and_filters_by_since(tmp_path: Path) -> None:
    log = NotificationLog(tmp_path / "n.jsonl")
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    for minute in range(3):
        log.append(body(f"A{minute}"), received_at=start + timedelta(minutes=minute))
    records = log.read()
    assert [record.payload.alerts[0].name for record in records] == ["A0", "A1", "A2"]
    later = log.read(since=start + timedelta(minutes=1))
    assert [record.payload.alerts[0].name for record in later] == ["A1", "A2"]
    naive_utc = log.read(since=datetime(2024, 5, 1, 12, 2))  # naive means UTC
    assert [record.payload.alerts[0].name for record in naive_utc] == ["A2"]


def test_a_missing_file_reads_as_no_notifications(tmp_path: Path) -> None:
    assert NotificationLog(tmp_path / "absent.jsonl").read() == []


def test_an_unfinished_last_line_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    log = NotificationLog(path)
    log.append(body("Complete"))
    with path.open("a") as handle:
        handle.write('{"received_at": "2024-05-01T12:00:00Z", "payl')
    assert [record.payload.alerts[0].name for record in log.read()] == ["Complete"]


def test_an_invalid_body_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    log = NotificationLog(tmp_path / "n.jsonl")
    with pytest.raises(ValidationError):
        log.append(b'{"status": "firing"}')
    assert not (tmp_path / "n.jsonl").exists()


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    log = NotificationLog(tmp_path / "n.jsonl")
    padding = "x" * 20_000  # big lines make interleaving visible if it happened

    def write(worker: int) -> None:
        for index in range(25):
            log.append(body(f"W{worker}-{index}", note=padding))

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = {record.payload.alerts[0].name for record in log.read()}
    assert names == {f"W{worker}-{index}" for worker in range(8) for index in range(25)}
