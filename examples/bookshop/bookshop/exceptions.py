"""The bookshop's exceptions, one tree under :class:`BookshopError`.

::

    BookshopError
    ├── ConfigError            bad or missing environment variable (exit 2 at startup)
    ├── ClientError            the request is wrong; answered 4xx, never sent to Sentry
    │   ├── BadRequest         400: the body is not a JSON object
    │   ├── BookNotFound       404: no such book
    │   └── InvalidOrder       422: a JSON object whose fields are wrong
    └── DependencyUnavailable  a backend failed; answered 5xx and sent to Sentry
        ├── DatabaseUnavailable  503: PostgreSQL unreachable, pool timeout, statement timeout
        └── PricingUnavailable   502: pricing timed out, refused, or answered badly

The two dependency classes are what Sentry groups on: every pricing failure is
one ``PricingUnavailable`` issue, every database failure one
``DatabaseUnavailable`` issue, whatever the underlying driver error.
"""

from __future__ import annotations

from typing import Literal

PricingFailure = Literal["timeout", "connect", "status"]


class BookshopError(Exception):
    """Root of every exception the bookshop raises on purpose."""


class ConfigError(BookshopError):
    """An environment variable is missing or malformed."""


class ClientError(BookshopError):
    """The request itself is wrong: a 4xx answer."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(ClientError):
    status_code = 400


class BookNotFound(ClientError):
    status_code = 404

    def __init__(self, book_id: int) -> None:
        super().__init__(f"book {book_id} not found")
        self.book_id = book_id


class InvalidOrder(ClientError):
    status_code = 422


class DependencyUnavailable(BookshopError):
    """A backend the request needs did not answer in time or answered wrongly."""

    status_code = 503


class DatabaseUnavailable(DependencyUnavailable):
    """PostgreSQL failed during ``operation`` (connection, pool wait or statement timeout)."""

    status_code = 503

    def __init__(self, operation: str, error: str) -> None:
        super().__init__(f"database unavailable during {operation}: {error}")
        self.operation = operation
        self.error = error


class PricingUnavailable(DependencyUnavailable):
    """The pricing service failed: ``reason`` is timeout, connect or status."""

    status_code = 502

    def __init__(self, reason: PricingFailure, error: str) -> None:
        super().__init__(f"pricing unavailable ({reason}): {error}")
        self.reason: PricingFailure = reason
        self.error = error
