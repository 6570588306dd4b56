"""What every HTTP backend client shares: one ``httpx.Client``, errors mapped to the tree.

A transport failure (refused, reset, timed out) and any 5xx become
:class:`~assertions.exceptions.BackendUnavailable` naming the backend and the
URL; a body that does not match the documented JSON becomes
:class:`~assertions.exceptions.UnexpectedResponse`. Each client decides what
its 4xx answers mean (a rejected query, a missing trace, a bad token).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Self, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from assertions.exceptions import BackendUnavailable, UnexpectedResponse

T = TypeVar("T")

#: Query parameters: a mapping, or pairs when a name repeats (``filter=a&filter=b``).
Params = Mapping[str, str] | Sequence[tuple[str, str]]
_Pairs = list[tuple[str, str | int | float | bool | None]]

DEFAULT_TIMEOUT_S = 10.0
_EXCERPT = 300


def excerpt(response: httpx.Response) -> str:
    """The start of a response body, for error messages."""
    text = response.text.strip()
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


class HttpBackend:
    """Base of the HTTP clients; a context manager that closes its connection pool."""

    #: The backend's name in error messages (``prometheus``, ``jaeger``...).
    backend: str = "backend"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers=dict(headers or {}),
            transport=transport,
        )

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (without query parameters); absolute URLs as they are."""
        if path.startswith(("http://", "https://")):
            return path.split("?", 1)[0]
        return self.base_url + path

    def _get(self, path: str, params: Params | None = None) -> httpx.Response:
        """GET ``path``; a transport failure or a 5xx is :class:`BackendUnavailable`."""
        pairs: _Pairs = []
        if params is not None:
            pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
        try:
            response = self._client.get(path, params=pairs or None)
        except httpx.TimeoutException as exc:
            timeout = self._client.timeout.read
            raise BackendUnavailable(
                self.backend, self.url(path), f"timed out after {timeout} s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise BackendUnavailable(
                self.backend, self.url(path), f"{type(exc).__name__}: {exc}"
            ) from exc
        if response.is_server_error:
            raise BackendUnavailable(
                self.backend,
                self.url(path),
                f"HTTP {response.status_code}: {excerpt(response)}",
            )
        return response

    def _decode(self, response: httpx.Response, adapter: TypeAdapter[T]) -> T:
        """Validate the JSON body of ``response`` with ``adapter``."""
        try:
            return adapter.validate_json(response.content)
        except ValidationError as exc:
            raise self._unexpected(response, f"undocumented JSON: {exc}") from exc

    def _unexpected(self, response: httpx.Response, reason: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            self.backend, str(response.request.url), response.status_code, reason
        )

    def _require_ok(self, response: httpx.Response) -> httpx.Response:
        """``response`` if it is 2xx, else :class:`UnexpectedResponse` with its body."""
        if not response.is_success:
            raise self._unexpected(response, excerpt(response))
        return response

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


__all__ = ["DEFAULT_TIMEOUT_S", "HttpBackend", "Params", "excerpt"]
