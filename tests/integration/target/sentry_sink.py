"""A real HTTP endpoint that accepts Sentry envelopes and keeps the events.

The SDK talks to it over HTTP exactly as to Sentry (``/api/<project>/envelope/``),
so what the tests see is what a Sentry server would receive.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EventDict = dict[str, Any]


def parse_envelope(raw: bytes) -> list[EventDict]:
    """The ``event`` items of a Sentry envelope."""
    lines = raw.split(b"\n")
    events: list[EventDict] = []
    index = 1  # line 0 is the envelope header
    while index < len(lines):
        if not lines[index].strip():
            index += 1
            continue
        header = json.loads(lines[index])
        length = header.get("length")
        if length is not None:
            start = sum(len(line) + 1 for line in lines[: index + 1])
            payload = raw[start : start + length]
            rest = raw[start + length :].lstrip(b"\n")
            if header.get("type") == "event":
                events.append(json.loads(payload))
            lines = [b"", *rest.split(b"\n")]
            index = 1
            continue
        payload = lines[index + 1] if index + 1 < len(lines) else b"{}"
        if header.get("type") == "event":
            events.append(json.loads(payload))
        index += 2
    return events


class SentrySink:
    """Collects events posted by sentry-sdk; ``dsn`` points the SDK at it."""

    def __init__(self) -> None:
        self.events: list[EventDict] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found, import-untyped, unused-ignore] # optional dependency of the SDK

                    body = brotli.decompress(body)
                with sink._lock:
                    sink.events.extend(parse_envelope(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self._server.server_port}/1"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[EventDict]:
        """Wait until ``count`` events arrived; return all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.events) >= count:
                    return list(self.events)
            time.sleep(0.05)
        with self._lock:
            return list(self.events)

    def __enter__(self) -> SentrySink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
