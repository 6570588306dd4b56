"""Asking the running service, over loopback HTTP only, for what a profile needs.

A health path (the first of :data:`HEALTH_PATHS` answering 2xx), a metrics
path answering Prometheus text, and an OpenAPI (3.x) or Swagger (2.0) document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from scenarios.scaffold.errors import InitError
from scenarios.scaffold.openapi import parse_openapi

HEALTH_PATHS = ("/readyz", "/healthz", "/health", "/startup", "/liveness", "/ready", "/live", "/")
"""Tried in this order; the first answering 2xx is the profile's ``health.ready``."""
LIVENESS_PATHS = ("/healthz", "/health", "/liveness", "/live")
"""When ``ready`` is a readiness or start-up check, the first of these answering 2xx is ``live``."""
METRICS_PATHS = ("/metrics",)
OPENAPI_PATHS = (
    "/openapi.json",
    "/openapi.yaml",
    "/swagger.json",
    "/v3/api-docs",
    "/api/openapi.json",
    "/docs/openapi.json",
)
TIMEOUT_S = 2.0
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

_SAMPLE = re.compile(
    r"^[A-Za-z_:][A-Za-z0-9_:]*(\{.*\})?\s+[-+]?(\d|\.\d|NaN|Inf|\+Inf)[^\s]*(\s+-?\d+)?\s*$"
)


def check_url(url: str) -> str:
    """``url`` without a trailing slash, if it is http(s) on loopback with no path."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise InitError(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InitError(
            f"{url!r} is not an http(s) URL: give the service's base URL, "
            "e.g. http://127.0.0.1:8000"
        )
    if host not in LOOPBACK_HOSTS:
        raise InitError(
            f"{url!r} is not on loopback: chaoslab only tests services on "
            "127.0.0.1, localhost or [::1]"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise InitError(
            f"{url!r} has more than scheme, host and port: give the service's base URL "
            f"({parts.scheme}://{parts.netloc.rpartition('@')[2]}); paths are discovered"
        )
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Discovery:
    """What a running service answered."""

    url: str
    root_status: int
    ready: str | None
    live: str | None = None
    ready_status: int | None = None
    metrics: str | None = None
    openapi_path: str | None = None
    openapi: Mapping[str, Any] | None = None

    @property
    def ready_failed(self) -> bool:
        """Did the ready path answer, but not 2xx, when init asked?"""
        return self.ready_status is not None and not _ok(self.ready_status)


def is_prometheus_text(text: str) -> bool:
    """Does ``text`` look like a Prometheus (or OpenMetrics) exposition?"""
    lines = [line.strip() for line in text.splitlines()[:500] if line.strip()]
    if not lines:
        return False
    samples = 0
    for line in lines:
        if line.startswith("#"):
            continue
        if not _SAMPLE.match(line):
            return False
        samples += 1
    return samples > 0 or any(line.startswith("# TYPE ") for line in lines)


def discover(url: str, client: httpx.Client | None = None) -> Discovery:
    """Ask the service at ``url`` for health, metrics and OpenAPI (``InitError`` if silent)."""
    own = client is None
    client = client or httpx.Client(base_url=url, timeout=TIMEOUT_S, trust_env=False)
    try:
        try:
            root_status = client.get("/", follow_redirects=True).status_code
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            raise InitError(f"nothing answers at {url} ({detail})") from None
        statuses = {path: _status(client, path) for path in HEALTH_PATHS}
        ready = next((p for p in HEALTH_PATHS if _ok(statuses[p])), None)
        if ready is None:
            # Present but failing right now (a 503 from a readiness check) still names a path.
            ready = next((p for p in HEALTH_PATHS if p != "/" and (statuses[p] or 0) >= 500), None)
        ready_status = None if ready is None else statuses[ready]
        live = None
        if ready is not None and ready not in LIVENESS_PATHS and ready != "/":
            live = next((p for p in LIVENESS_PATHS if _ok(statuses[p])), None)
        metrics = next((p for p in METRICS_PATHS if _serves_metrics(client, p)), None)
        openapi_path, openapi = None, None
        for path in OPENAPI_PATHS:
            doc = _fetch_openapi(client, path)
            if doc is not None:
                openapi_path, openapi = path, doc
                break
        return Discovery(
            url=url,
            root_status=root_status,
            ready=ready,
            live=live,
            ready_status=ready_status,
            metrics=metrics,
            openapi_path=openapi_path,
            openapi=openapi,
        )
    finally:
        if own:
            client.close()


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _get(client: httpx.Client, path: str, *, follow: bool = False) -> httpx.Response | None:
    """The answer to ``GET path``, or None when there is none."""
    try:
        return client.get(path, follow_redirects=follow)
    except httpx.HTTPError:
        return None


def _status(client: httpx.Client, path: str) -> int | None:
    response = _get(client, path)
    return None if response is None else response.status_code


def _text(client: httpx.Client, path: str, *, follow: bool = False) -> str | None:
    """The body of a 200 answer to ``GET path``, or None."""
    response = _get(client, path, follow=follow)
    return response.text if response is not None and response.status_code == 200 else None


def _serves_metrics(client: httpx.Client, path: str) -> bool:
    text = _text(client, path)
    return text is not None and is_prometheus_text(text)


def _fetch_openapi(client: httpx.Client, path: str) -> dict[str, Any] | None:
    text = _text(client, path, follow=True)
    return None if text is None else parse_openapi(text)
