"""The target's health endpoints: ``/readiness``, ``/liveness`` (and ``/startup``).

A 503 is an *observation* here, not an unavailable backend: readiness failing
is exactly what a health expectation looks for. Only a transport failure (the
process is not listening, the request timed out) raises
:class:`~assertions.exceptions.BackendUnavailable`.

The body the target serves::

    {"status": "ok"|"fail"|"starting",
     "checks": [{"name", "ok", "duration_ms", "error"}],
     "failing": ["classifier", ...]}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assertions.exceptions import BackendUnavailable
from assertions.transport import DEFAULT_TIMEOUT_S, HttpBackend

Probe = Literal["readiness", "liveness", "startup"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class HealthCheck(_Model):
    """One dependency check of ``/readiness``."""

    name: str
    ok: bool
    duration_ms: float = 0.0
    error: str | None = None


class HealthReport(_Model):
    status: str
    checks: list[HealthCheck] = Field(default_factory=list)
    failing: list[str] = Field(default_factory=list)

    def check(self, name: str) -> HealthCheck | None:
        return next((c for c in self.checks if c.name == name), None)


class HealthObservation(_Model):
    """What one probe answered, and when."""

    probe: Probe
    url: str
    status_code: int
    observed_at: datetime
    #: The parsed body; None when it was not the documented JSON (see ``body``).
    report: HealthReport | None = None
    #: The raw body when ``report`` could not be parsed (truncated).
    body: str = ""

    @property
    def healthy(self) -> bool:
        """2xx and, when a report came back, ``status == "ok"``."""
        ok_status = self.report is None or self.report.status == "ok"
        return httpx.codes.is_success(self.status_code) and ok_status

    @property
    def failing(self) -> list[str]:
        return [] if self.report is None else list(self.report.failing)

    def describe(self) -> str:
        detail = ", ".join(
            f"{c.name}: {c.error}" for c in (self.report.checks if self.report else []) if not c.ok
        )
        status = self.report.status if self.report else self.body[:80]
        suffix = f" ({detail})" if detail else ""
        return f"{self.probe} HTTP {self.status_code} {status}{suffix}"


_BODY_EXCERPT = 500


class HealthClient(HttpBackend):
    """Probe the target's health endpoints."""

    backend = "target"

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout=timeout, transport=transport)

    def readiness(self) -> HealthObservation:
        return self.probe("readiness")

    def liveness(self) -> HealthObservation:
        return self.probe("liveness")

    def startup(self) -> HealthObservation:
        return self.probe("startup")

    def probe(self, probe: Probe) -> HealthObservation:
        """GET ``/<probe>``; any HTTP status is an observation."""
        path = f"/{probe}"
        try:
            response = self._client.get(path)
        except httpx.TimeoutException as exc:
            raise BackendUnavailable(self.backend, self.url(path), "timed out") from exc
        except httpx.TransportError as exc:
            raise BackendUnavailable(
                self.backend, self.url(path), f"{type(exc).__name__}: {exc}"
            ) from exc
        try:
            report: HealthReport | None = HealthReport.model_validate_json(response.content)
            body = ""
        except ValidationError:
            report, body = None, response.text[:_BODY_EXCERPT]
        return HealthObservation(
            probe=probe,
            url=self.url(path),
            status_code=response.status_code,
            observed_at=datetime.now(UTC),
            report=report,
            body=body,
        )


__all__ = ["HealthCheck", "HealthClient", "HealthObservation", "HealthReport", "Probe"]
