"""The webhook receiver as a local-stack component (``python -m stack.alerting.webhook_server``)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import httpx
from pydantic import TypeAdapter

from stack.alerting.component import LoopbackServer
from stack.alerting.journal import NotificationLog
from stack.alerting.payload import Notification, iso_utc
from stack.alerting.webhook_server import ALERTS_PATH
from stack.ports import LOOPBACK

COMPONENT = "alert-webhook"
OUT_FILENAME = "notifications.jsonl"
_NOTIFICATIONS = TypeAdapter(list[Notification])


class AlertWebhook(LoopbackServer):
    """Records every Alertmanager notification to ``state_dir/notifications.jsonl``."""

    component = COMPONENT
    health_path = "/healthz"

    def __init__(
        self,
        state_dir: Path,
        port: int = 0,
        startup_timeout: float = 20.0,
        python: str = sys.executable,
    ) -> None:
        super().__init__(state_dir, port, startup_timeout)
        self.python = python

    @property
    def out_path(self) -> Path:
        return self.state_dir / OUT_FILENAME

    @property
    def receiver_url(self) -> str:
        """The URL to give Alertmanager's webhook receiver."""
        return self.url + ALERTS_PATH

    def prepare(self) -> list[str]:
        return [
            self.python, "-m", "stack.alerting.webhook_server",
            "--host", LOOPBACK,
            "--port", str(self.port),
            "--out", str(self.out_path),
        ]  # fmt: skip

    def notifications(self, since: datetime | None = None) -> list[Notification]:
        """The recorded notifications via ``GET /notifications`` (needs the server up)."""
        params = {} if since is None else {"since": iso_utc(since)}
        response = httpx.get(self.url + "/notifications", params=params, timeout=5.0)
        response.raise_for_status()
        return _NOTIFICATIONS.validate_json(response.content)

    def recorded(self, since: datetime | None = None) -> list[Notification]:
        """The recorded notifications read straight from the file (works after stop)."""
        return NotificationLog(self.out_path).read(since)


__all__ = ["AlertWebhook"]
