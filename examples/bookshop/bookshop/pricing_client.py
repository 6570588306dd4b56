"""The pricing service over HTTP (httpx), one shared client for all request threads.

Each lookup runs in a manual ``pricing.lookup`` span (the instrumented httpx
client adds its own client span below it), is timed into
``bookshop_pricing_latency_seconds`` whatever its outcome, and a failure is
counted in ``bookshop_pricing_failures_total{reason}`` and raised as
:class:`PricingUnavailable`.
"""

from __future__ import annotations

import time

import httpx
from opentelemetry import trace

from bookshop.exceptions import PricingFailure, PricingUnavailable
from bookshop.metrics import PRICING_FAILURES, PRICING_LATENCY
from bookshop.models import Price

tracer = trace.get_tracer("bookshop.pricing")


class PricingClient:
    """Looks prices up; every phase (connect, write, read, pool) is bounded by ``timeout_s``."""

    def __init__(self, base_url: str, timeout_s: float, max_connections: int = 32) -> None:
        self.base_url = base_url
        self._client = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_connections),
        )

    def close(self) -> None:
        self._client.close()

    def price(self, isbn: str) -> Price:
        """The price of ``isbn``; raises PricingUnavailable on timeout, refusal or a bad answer."""
        started = time.perf_counter()
        with tracer.start_as_current_span(
            "pricing.lookup", attributes={"bookshop.isbn": isbn}
        ) as span:
            try:
                price = self._lookup(isbn)
            except PricingUnavailable as exc:
                span.set_attribute("bookshop.pricing.failure_reason", exc.reason)
                PRICING_FAILURES.labels(reason=exc.reason).inc()
                raise
            finally:
                PRICING_LATENCY.observe(time.perf_counter() - started)
            span.set_attribute("bookshop.price_cents", price.price_cents)
            return price

    def _lookup(self, isbn: str) -> Price:
        try:
            response = self._client.get(f"/prices/{isbn}")
        except httpx.TimeoutException as exc:
            raise _unavailable("timeout", exc) from exc
        except httpx.TransportError as exc:
            raise _unavailable("connect", exc) from exc
        if response.status_code != 200:
            raise PricingUnavailable("status", f"HTTP {response.status_code} for {isbn}")
        try:
            body = response.json()
            return Price(
                isbn=str(body["isbn"]),
                price_cents=int(body["price_cents"]),
                currency=str(body["currency"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise PricingUnavailable("status", f"malformed answer for {isbn}: {exc}") from exc

    def check(self) -> str | None:
        """Readiness: None when ``/healthz`` answers 200, else what went wrong."""
        try:
            response = self._client.get("/healthz")
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return None


def _unavailable(reason: PricingFailure, exc: Exception) -> PricingUnavailable:
    return PricingUnavailable(reason, f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc))
