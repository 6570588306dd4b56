"""An unreachable backend is BackendUnavailable naming it and its URL — for every client.

Real failures, not mocks: a free loopback port with nothing listening
(connection refused) and a socket that accepts connections but never answers
(read timeout). Only the 5xx case uses a canned response.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import httpx
import pytest

from assertions import (
    AlertmanagerClient,
    AssertionsError,
    BackendUnavailable,
    BugsinkClient,
    ExpectationFailed,
    HealthClient,
    JaegerClient,
    NotificationLogClient,
    PrometheusClient,
    QueryError,
    UnexpectedResponse,
)
from stack.ports import LOOPBACK, free_port

Call = Callable[[str, httpx.BaseTransport | None, float], object]

CALLS: dict[str, tuple[str, Call]] = {
    "prometheus query": (
        "prometheus",
        lambda url, t, s: PrometheusClient(url, transport=t, timeout=s).query("up"),
    ),
    "prometheus alerts": (
        "prometheus",
        lambda url, t, s: PrometheusClient(url, transport=t, timeout=s).alerts(),
    ),
    "alertmanager": (
        "alertmanager",
        lambda url, t, s: AlertmanagerClient(url, transport=t, timeout=s).alerts(),
    ),
    "webhook record": (
        "alert-webhook",
        lambda url, t, s: NotificationLogClient(url, transport=t, timeout=s).notifications(),
    ),
    "jaeger": (
        "jaeger",
        lambda url, t, s: JaegerClient(url, transport=t, timeout=s).find_traces("target"),
    ),
    "bugsink": (
        "bugsink",
        lambda url, t, s: BugsinkClient(url, "0" * 40, 1, transport=t, timeout=s).issues(),
    ),
    "health": (
        "target",
        lambda url, t, s: HealthClient(url, transport=t, timeout=s).readiness(),
    ),
}


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A listening socket that never accepts: connections succeed, reads time out."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(8)
        yield f"http://{LOOPBACK}:{sock.getsockname()[1]}"


@pytest.mark.parametrize("name", CALLS)
def test_connection_refused_is_backend_unavailable(name: str) -> None:
    backend, call = CALLS[name]
    url = f"http://{LOOPBACK}:{free_port()}"

    with pytest.raises(BackendUnavailable) as caught:
        call(url, None, 2.0)

    assert caught.value.backend == backend
    assert caught.value.url.startswith(url)
    assert "ConnectError" in caught.value.reason
    assert url in str(caught.value)


@pytest.mark.parametrize("name", CALLS)
def test_timeout_is_backend_unavailable(name: str, silent_url: str) -> None:
    backend, call = CALLS[name]

    with pytest.raises(BackendUnavailable) as caught:
        call(silent_url, None, 0.2)

    assert caught.value.backend == backend
    assert "timed out" in caught.value.reason


@pytest.mark.parametrize("name", [n for n in CALLS if n != "health"])
def test_server_error_is_backend_unavailable(name: str) -> None:
    backend, call = CALLS[name]
    transport = httpx.MockTransport(lambda _: httpx.Response(503, text="overloaded"))

    with pytest.raises(BackendUnavailable) as caught:
        call("http://backend.test", transport, 1.0)

    assert caught.value.backend == backend
    assert "HTTP 503: overloaded" in caught.value.reason


def test_unavailable_is_an_error_never_a_failed_expectation() -> None:
    for error in (BackendUnavailable, UnexpectedResponse, QueryError):
        assert issubclass(error, AssertionsError)
        assert not issubclass(error, AssertionError)
    assert issubclass(ExpectationFailed, AssertionsError)
    assert issubclass(ExpectationFailed, AssertionError)


def test_clients_close_their_connection_pool() -> None:
    with PrometheusClient("http://prometheus.test") as prom:
        assert prom.url("/api/v1/query") == "http://prometheus.test/api/v1/query"
    with pytest.raises(RuntimeError):
        prom.query("up")
