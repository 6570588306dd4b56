"""A small HTTP/1.1 server on asyncio streams: keep-alive, Content-Length, chunked bodies.

Just enough for a JSON control API; no dependency beyond the standard library.
A request sent with ``Expect: 100-continue`` gets ``100 Continue`` before its
body is read, as from Go's ``net/http``, so clients such as curl do not wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

log = logging.getLogger("stack.toxiproxy.http")

MAX_LINE = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query string
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = field(default=())


Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    """The bytes on the wire are not an HTTP/1.x request we can read."""


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest("bad chunk size") from None
            if size == 0:
                while (await reader.readline()).strip():  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise BadRequest("body too large")
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = headers.get("content-length")
    if length is None:
        return b""
    if not length.strip().isdigit() or int(length) > MAX_BODY:
        raise BadRequest("bad content-length")
    return await reader.readexactly(int(length))


def _expects_continue(version: str, headers: dict[str, str]) -> bool:
    """Whether the client waits for ``100 Continue`` before it sends a body (Go's rule:
    HTTP/1.1 or later, a ``100-continue`` token, a body that is not declared empty)."""
    if version == "HTTP/1.0":
        return False
    tokens = (token.strip().lower() for token in headers.get("expect", "").split(","))
    if "100-continue" not in tokens:
        return False
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    return chunked or headers.get("content-length", "0").strip() not in ("", "0")


async def _read_request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[Request, bool] | None:
    """The next request and whether the connection stays open after it; None at EOF."""
    line = await reader.readline()
    if not line:
        return None
    if not line.strip():  # tolerate a stray CRLF between requests
        line = await reader.readline()
        if not line:
            return None
    try:
        method, target, version = line.decode("latin-1").split()
    except ValueError:
        raise BadRequest("malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise BadRequest("unsupported HTTP version")
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            raise BadRequest("malformed header")
        headers[name.strip().lower()] = value.strip()
    if _expects_continue(version, headers):
        writer.write(CONTINUE)
        await writer.drain()
    body = await _read_body(reader, headers)
    connection = headers.get("connection", "").lower()
    keep_alive = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
    path = unquote(urlsplit(target).path)
    return Request(method.upper(), path, headers, body), keep_alive


def _encode(response: Response, keep_alive: bool) -> bytes:
    status = HTTPStatus(response.status)
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    if response.content_type is not None and response.status != 204:
        lines.append(f"Content-Type: {response.content_type}")
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    lines.append(f"X-Toxiproxy-Request-Id: {secrets.token_hex(10)}")
    lines.append(f"Date: {formatdate(usegmt=True)}")
    if response.status != 204:
        lines.append(f"Content-Length: {len(response.body)}")
    if not keep_alive:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if response.status == 204 else head + response.body


async def serve_connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    """Serve requests on one connection until the client closes or asks to."""
    try:
        while True:
            try:
                parsed = await _read_request(reader, writer)
            except (BadRequest, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                writer.write(_encode(Response(400, b"400 Bad Request", "text/plain"), False))
                break
            if parsed is None:
                break
            request, keep_alive = parsed
            try:
                response = await handler(request)
            except Exception:
                log.exception("handler failed: %s %s", request.method, request.path)
                response = Response(500, b"internal error\n", "text/plain; charset=utf-8")
            writer.write(_encode(response, keep_alive))
            await writer.drain()
            if not keep_alive:
                break
    except ConnectionError:
        pass  # the client went away mid-request: nothing to answer
    finally:
        with contextlib.suppress(Exception):
            writer.close()
