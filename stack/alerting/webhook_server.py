"""The lab's Alertmanager webhook receiver: a small stdlib HTTP server.

    python -m stack.alerting.webhook_server --host 127.0.0.1 --port N --out FILE.jsonl

Routes:

* ``POST /alerts`` — an Alertmanager webhook payload (v4); recorded with its
  arrival time as one JSON line of ``--out``; 400 if it is not a payload.
* ``GET /notifications?since=ISO8601`` — the recorded notifications (all, or
  those received at or after ``since``) as a JSON array of
  ``{"received_at", "payload"}``, oldest first.
* ``GET /healthz`` — 200 ``{"status": "ok"}``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

from stack.alerting.journal import NotificationLog
from stack.alerting.payload import iso_utc
from stack.ports import LOOPBACK

MAX_BODY_BYTES = 16 * 1024 * 1024
ALERTS_PATH = "/alerts"


class WebhookServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its notification log."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], log: NotificationLog) -> None:
        self.log = log
        super().__init__(address, WebhookHandler)


class WebhookHandler(BaseHTTPRequestHandler):
    server: WebhookServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        if urlsplit(self.path).path != ALERTS_PATH:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no route POST {self.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
            return
        body = self.rfile.read(length)
        try:
            notification = self.server.log.append(body)
        except (ValidationError, ValueError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"not an Alertmanager payload: {exc}"})
            return
        self._json(
            HTTPStatus.OK,
            {"status": "recorded", "received_at": iso_utc(notification.received_at)},
        )

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._json(HTTPStatus.OK, {"status": "ok"})
            return
        if url.path != "/notifications":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no route GET {url.path}"})
            return
        since_values = parse_qs(url.query).get("since")
        since: datetime | None = None
        if since_values:
            try:
                since = datetime.fromisoformat(since_values[0])
            except ValueError:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "since must be an ISO 8601 time"})
                return
        records = self.server.log.read(since)
        self._json(
            HTTPStatus.OK, [record.model_dump(mode="json", by_alias=True) for record in records]
        )

    def _json(self, status: HTTPStatus, document: object) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.log_date_time_string()} {self.address_string()} {format % args}\n")
        sys.stderr.flush()


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="JSON-lines file to append to")
    return parser.parse_args(argv)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server = WebhookServer((args.host, args.port), NotificationLog(args.out))
    signal.signal(signal.SIGTERM, _exit_on_signal)
    sys.stderr.write(f"alert webhook listening on http://{args.host}:{args.port}, out={args.out}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
