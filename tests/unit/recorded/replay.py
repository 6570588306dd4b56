"""Serve recorded backend responses to a client through ``httpx.MockTransport``.

The fixtures next to this file were captured from the real backends by
``record.py``: each is ``{"request": {"method", "path", "params"}, "status",
"body"}``. :class:`Replay` answers a request whose path ends with a fixture's
recorded path with that fixture's status and body, and keeps every request it
saw so a test can check what the client asked.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from pydantic import BaseModel, JsonValue

HERE = Path(__file__).resolve().parent


class RecordedRequest(BaseModel):
    method: str
    path: str
    params: dict[str, str]


class Recorded(BaseModel):
    """One recorded exchange."""

    request: RecordedRequest
    status: int
    body: JsonValue

    def response(self) -> httpx.Response:
        return httpx.Response(self.status, json=self.body)


def recorded(name: str) -> Recorded:
    """The fixture ``<name>.json``."""
    return Recorded.model_validate_json((HERE / f"{name}.json").read_text())


def recorded_log() -> bytes:
    """A slice of the target's real log file."""
    return (HERE / "target.jsonl").read_bytes()


class Replay:
    """A mock transport answering from the named fixtures."""

    def __init__(self, *names: str) -> None:
        self.names = names
        self.requests: list[httpx.Request] = []
        self.fixtures = [recorded(name) for name in names]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        for fixture in self.fixtures:
            if request.url.path.endswith(fixture.request.path):
                return fixture.response()
        body = {"replay": f"no recorded response for {request.url.path}", "have": self.names}
        return httpx.Response(418, content=json.dumps(body).encode())

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def dig(value: JsonValue, *path: str | int) -> JsonValue:
    """``value[path[0]][path[1]]...`` in recorded JSON, failing clearly on a wrong shape.

    Tests take ids and counts from the fixtures with it, so re-recording does
    not mean editing constants.
    """
    for key in path:
        if isinstance(value, list) and isinstance(key, int):
            value = value[key]
            continue
        if isinstance(value, dict) and isinstance(key, str):
            value = value[key]
            continue
        raise TypeError(f"cannot index {type(value).__name__} with {key!r}")
    return value


def dig_str(value: JsonValue, *path: str | int) -> str:
    found = dig(value, *path)
    if not isinstance(found, str):
        raise TypeError(f"expected a string at {path!r}, found {found!r}")
    return found


def dig_list(value: JsonValue, *path: str | int) -> list[JsonValue]:
    found = dig(value, *path)
    if not isinstance(found, list):
        raise TypeError(f"expected a list at {path!r}, found {type(found).__name__}")
    return found
