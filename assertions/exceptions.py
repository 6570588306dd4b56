"""Exceptions of the ``assertions`` package.

The tree::

    AssertionsError                 root: catch this to catch everything below
    ├── BackendUnavailable          a backend could not be asked: connection refused,
    │                               timeout, 5xx, missing log file — an *error*
    ├── UnexpectedResponse          a backend answered, but not as its API documents:
    │                               401/403/404 on a fixed path, a body that is not the
    │                               documented JSON — an *error* (version or config drift)
    ├── QueryError                  the backend rejected the question itself (bad PromQL,
    │                               bad Jaeger search parameters) — an *error*, with the query
    ├── ExpectationError            an expectation could not be evaluated (its verdict is
    │   │                           ``error``): how the pytest ``lab`` fixture reports it
    │   └── BackendNotConfigured    the expectation needs a backend the run has no client
    │                               for (e.g. a trace expectation without a trace store)
    └── ExpectationFailed           a signal did not surface (also an ``AssertionError``):
                                    the only *failure*; its message shows the query, what
                                    was expected and what was observed

An unreachable backend is never reported as a missing signal, and a missing
signal is never reported as an unreachable backend: the expectation engine
turns ``ExpectationFailed`` into a failed verdict and anything else under
``AssertionsError`` into an errored one.
"""

from __future__ import annotations


class AssertionsError(Exception):
    """Root of every exception raised by ``assertions``."""


class BackendUnavailable(AssertionsError):
    """``backend`` at ``url`` could not answer: connection refused, timeout, 5xx, no log file."""

    def __init__(self, backend: str, url: str, reason: str) -> None:
        self.backend = backend
        self.url = url
        self.reason = reason
        super().__init__(f"{backend} at {url} is unavailable: {reason}")


class UnexpectedResponse(AssertionsError):
    """``backend`` answered ``url`` with something its API does not document."""

    def __init__(self, backend: str, url: str, status_code: int, reason: str) -> None:
        self.backend = backend
        self.url = url
        self.status_code = status_code
        self.reason = reason
        super().__init__(f"{backend} at {url} answered HTTP {status_code}: {reason}")


class QueryError(AssertionsError):
    """``backend`` rejected ``query``; ``error_type`` is the backend's own classification."""

    def __init__(self, backend: str, query: str, error_type: str, message: str) -> None:
        self.backend = backend
        self.query = query
        self.error_type = error_type
        self.message = message
        super().__init__(f"{backend} rejected the query {query!r} ({error_type}): {message}")


class ExpectationError(AssertionsError):
    """An expectation could not be evaluated (its verdict is ``error``); ``str()`` says why."""


class BackendNotConfigured(ExpectationError):
    """``backend`` has no client in this run, so an expectation on it cannot be evaluated."""

    def __init__(self, backend: str, kind: str) -> None:
        self.backend = backend
        self.kind = kind
        super().__init__(
            f"a {kind} expectation needs {backend}, and this run has no {backend} client"
        )


class ExpectationFailed(AssertionsError, AssertionError):
    """A signal did not surface as expected; ``str()`` is the whole explanation."""


__all__ = [
    "AssertionsError",
    "BackendNotConfigured",
    "BackendUnavailable",
    "ExpectationError",
    "ExpectationFailed",
    "QueryError",
    "UnexpectedResponse",
]
