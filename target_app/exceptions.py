"""Errors raised by the target service.

Tree::

    TargetError                  root of the service's own errors
    ├── DocumentNotFound         unknown document id (404)
    ├── InvalidCursor            a list cursor that we did not issue (400)
    ├── DatabaseError            anything wrong with PostgreSQL (503)
    │   ├── PoolTimeout          no pool connection free within the acquire timeout
    │   └── DatabaseUnavailable  the server refused, dropped or never answered
    ├── DownstreamError          the classifier answered badly (502)
    │   └── DownstreamTimeout    the classifier did not answer in time (504)
    └── ChaosError               base of exceptions raised on purpose by the fault switches
"""

from __future__ import annotations


class TargetError(Exception):
    """Root of the target service's errors."""


class DocumentNotFound(TargetError):
    def __init__(self, document_id: int) -> None:
        super().__init__(f"document {document_id} does not exist")
        self.document_id = document_id


class InvalidCursor(TargetError):
    def __init__(self, cursor: str) -> None:
        super().__init__(f"cursor {cursor!r} is not one this service issued")


class DatabaseError(TargetError):
    """PostgreSQL could not serve the request."""


class PoolTimeout(DatabaseError):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"no database connection became free within {timeout:g} s")
        self.timeout = timeout


class DatabaseUnavailable(DatabaseError):
    """Connecting to PostgreSQL failed or the connection broke."""


class DownstreamError(TargetError):
    """The classifier failed."""


class DownstreamTimeout(DownstreamError):
    def __init__(self, timeout: float) -> None:
        super().__init__(f"classifier did not answer within {timeout:g} s")
        self.timeout = timeout


class ChaosError(TargetError):
    """Base class of the exceptions the fault switches raise on purpose."""
