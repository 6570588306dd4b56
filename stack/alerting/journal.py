"""The webhook's JSON-lines file: one ``{"received_at", "payload"}`` object per call.

Each record is written with a single ``write(2)`` on an ``O_APPEND`` file
descriptor (under a lock for the server's threads), so a reader sees whole
lines; a last line without its newline is a write in progress and is skipped.
The payload is stored exactly as Alertmanager sent it (after it validated).
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime
from pathlib import Path

from stack.alerting.payload import AlertmanagerPayload, Notification, as_utc, iso_utc, utc_now


class NotificationLog:
    """Append to and read back the recorded notifications of one JSONL file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def append(self, body: bytes, received_at: datetime | None = None) -> Notification:
        """Validate an Alertmanager webhook body and record it; raises ValueError if invalid."""
        payload = AlertmanagerPayload.model_validate_json(body)
        raw = json.loads(body)
        moment = as_utc(received_at or utc_now())
        line = json.dumps(
            {"received_at": iso_utc(moment), "payload": raw},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        data = (line + "\n").encode()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                written = os.write(fd, data)
            finally:
                os.close(fd)
        if written != len(data):
            raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
        return Notification(received_at=moment, payload=payload)

    def read(self, since: datetime | None = None) -> list[Notification]:
        """Every complete record, oldest first; only those received at or after ``since``."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        lines = text.split("\n")[:-1]  # the part after the last newline is incomplete
        records = [Notification.model_validate_json(line) for line in lines if line.strip()]
        if since is None:
            return records
        floor = as_utc(since)
        return [record for record in records if record.received_at >= floor]


__all__ = ["NotificationLog"]
