"""The classifier client: httpx, traced, timed by outcome."""

from __future__ import annotations

import time

import httpx
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from target_app.exceptions import DownstreamError, DownstreamTimeout
from target_app.metrics import DOWNSTREAM_DURATION
from target_app.models import Classification, ClassifyRequest

SERVICE = "classifier"
tracer = trace.get_tracer("target_app.downstream")


class ClassifierClient:
    """Asks the downstream classifier for a document's label."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            # Idle connections are dropped well before the server's keep-alive
            # timeout, so a request never races the server closing its socket.
            limits=httpx.Limits(
                max_connections=200, max_keepalive_connections=50, keepalive_expiry=2.0
            ),
        )
        HTTPXClientInstrumentor.instrument_client(self._client)

    async def classify(self, title: str, body: str) -> Classification:
        payload = ClassifyRequest(title=title[:200], body=body[:100_000])
        started = time.perf_counter()
        outcome = "error"
        try:
            response = await self._client.post("/classify", json=payload.model_dump())
            response.raise_for_status()
            result = Classification.model_validate_json(response.content)
            outcome = "success"
            return result
        except httpx.TimeoutException as exc:
            outcome = "timeout"
            raise DownstreamTimeout(self.timeout) from exc
        except httpx.HTTPStatusError as exc:
            raise DownstreamError(f"classifier answered {exc.response.status_code}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise DownstreamError(f"classifier call failed: {exc!r}") from exc
        finally:
            DOWNSTREAM_DURATION.labels(service=SERVICE, outcome=outcome).observe(
                time.perf_counter() - started
            )

    async def ping(self) -> None:
        """Readiness probe of the classifier (its liveness endpoint)."""
        response = await self._client.get("/liveness")
        response.raise_for_status()

    async def close(self) -> None:
        await self._client.aclose()
