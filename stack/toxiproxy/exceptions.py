"""Errors raised by the embedded Toxiproxy-compatible server.

Tree::

    StackError                     (stack.exceptions) root of the stack package
    └── ToxiproxyError             root of everything stack.toxiproxy raises
        ├── ApiError               a request the HTTP API refuses: carries the
        │                          Toxiproxy message and HTTP status (400/404/409/500)
        └── ServerNotRunning       the embedded server was used before start() or
                                   after stop(), or failed to start
"""

from __future__ import annotations

import json

from stack.exceptions import StackError


class ToxiproxyError(StackError):
    """Root of every error raised by :mod:`stack.toxiproxy`."""


class ApiError(ToxiproxyError):
    """An API error exactly as Toxiproxy reports it: ``{"error": ..., "status": N}``."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def joined(self, detail: str) -> ApiError:
        """Toxiproxy's ``joinError``: ``"<message>: <detail>"`` with the same status."""
        return ApiError(f"{self.message}: {detail}", self.status)

    def body(self) -> bytes:
        """The response body Go's ``http.Error`` writes: compact JSON and a newline."""
        payload = {"error": self.message, "status": self.status}
        return (json.dumps(payload, separators=(",", ":")) + "\n").encode()


class ServerNotRunning(ToxiproxyError):
    """The embedded server is not running (never started, stopped, or failed)."""


# The fixed errors of Toxiproxy's api.go, same messages and statuses.
ERR_BAD_REQUEST_BODY = ApiError("bad request body", 400)
ERR_MISSING_FIELD = ApiError("missing required field", 400)
ERR_PROXY_NOT_FOUND = ApiError("proxy not found", 404)
ERR_PROXY_ALREADY_EXISTS = ApiError("proxy already exists", 409)
ERR_INVALID_STREAM = ApiError("stream was invalid, can be either upstream or downstream", 400)
ERR_INVALID_TOXIC_TYPE = ApiError("invalid toxic type", 400)
ERR_TOXIC_ALREADY_EXISTS = ApiError("toxic already exists", 409)
ERR_TOXIC_NOT_FOUND = ApiError("toxic not found", 404)
