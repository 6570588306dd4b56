"""Prometheus HTTP API client: instant and range queries, alerts, rules.

Usage::

    with PrometheusClient("http://127.0.0.1:9090") as prom:
        result = prom.query('sum(rate(http_requests_total{job="target"}[30s]))')
        highest = result.max_point()
        firing = [a for a in prom.alerts() if a.name == "ExceptionStorm" and a.firing]

A rejected expression (``{"status": "error", "errorType": "bad_data", ...}``,
HTTP 4xx) raises :class:`~assertions.exceptions.QueryError` carrying the
expression; a refused connection, a timeout or a 5xx raises
:class:`~assertions.exceptions.BackendUnavailable`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from assertions.exceptions import QueryError
from assertions.promql import Labels, MatrixResult, QueryResult
from assertions.transport import HttpBackend, excerpt

AlertState = Literal["inactive", "pending", "firing"]
RuleHealth = Literal["ok", "err", "unknown"]

D = TypeVar("D")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class PrometheusAlert(_Model):
    """An active (pending or firing) alert, from ``/api/v1/alerts`` or a rule's ``alerts``."""

    labels: Labels
    annotations: dict[str, str] = Field(default_factory=dict)
    state: AlertState
    active_at: datetime | None = Field(default=None, alias="activeAt")
    value: float = float("nan")

    @field_validator("active_at", mode="before")
    @classmethod
    def _zero_time(cls, raw: Any) -> Any:
        # Go's zero time means "not active".
        return None if isinstance(raw, str) and raw.startswith("0001-01-01") else raw

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def firing(self) -> bool:
        return self.state == "firing"


class AlertingRule(_Model):
    """An alerting rule as Prometheus loaded it, with its current alerts."""

    type: Literal["alerting"]
    name: str
    query: str
    duration_s: float = Field(default=0.0, alias="duration")
    keep_firing_for_s: float = Field(default=0.0, alias="keepFiringFor")
    labels: Labels = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    alerts: list[PrometheusAlert] = Field(default_factory=list)
    state: AlertState = "inactive"
    health: RuleHealth = "unknown"
    last_error: str | None = Field(default=None, alias="lastError")
    last_evaluation: datetime | None = Field(default=None, alias="lastEvaluation")


class RecordingRule(_Model):
    """A recording rule."""

    type: Literal["recording"]
    name: str
    query: str
    labels: Labels = Field(default_factory=dict)
    health: RuleHealth = "unknown"
    last_error: str | None = Field(default=None, alias="lastError")
    last_evaluation: datetime | None = Field(default=None, alias="lastEvaluation")


Rule = Annotated[AlertingRule | RecordingRule, Field(discriminator="type")]


class RuleGroup(_Model):
    name: str
    file: str
    rules: list[Rule]
    interval_s: float = Field(default=0.0, alias="interval")


class _Success(_Model, Generic[D]):
    status: Literal["success"]
    data: D
    warnings: list[str] = Field(default_factory=list)


class _Failure(_Model):
    status: Literal["error"]
    error_type: str = Field(default="unknown", alias="errorType")
    error: str = ""


class _Alerts(_Model):
    alerts: list[PrometheusAlert]


class _Groups(_Model):
    groups: list[RuleGroup]


_QUERY = TypeAdapter(_Success[QueryResult])
_RANGE = TypeAdapter(_Success[MatrixResult])
_ALERTS = TypeAdapter(_Success[_Alerts])
_RULES = TypeAdapter(_Success[_Groups])
_FAILURE = TypeAdapter(_Failure)


def unix_seconds(at: datetime) -> str:
    """``at`` as Prometheus's float unix seconds; a naive datetime is taken as UTC."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return f"{at.timestamp():.3f}"


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class PrometheusClient(HttpBackend):
    """Ask a Prometheus server; every method returns typed models."""

    backend = "prometheus"

    def query(
        self, expr: str, *, at: datetime | None = None, timeout: float | timedelta | None = None
    ) -> QueryResult:
        """``GET /api/v1/query``: evaluate ``expr`` at ``at`` (default: now)."""
        params = {"query": expr}
        if at is not None:
            params["time"] = unix_seconds(at)
        if timeout is not None:
            params["timeout"] = f"{_seconds(timeout):g}s"
        response = self._get("/api/v1/query", params)
        envelope = self._query_envelope(response, expr, _QUERY)
        return envelope.data.model_copy(update={"query": expr, "warnings": envelope.warnings})

    def query_range(
        self, expr: str, start: datetime, end: datetime, step: float | timedelta
    ) -> MatrixResult:
        """``GET /api/v1/query_range``: ``expr`` every ``step`` seconds, ``start`` to ``end``."""
        params = {
            "query": expr,
            "start": unix_seconds(start),
            "end": unix_seconds(end),
            "step": f"{_seconds(step):g}",
        }
        response = self._get("/api/v1/query_range", params)
        envelope = self._query_envelope(response, expr, _RANGE)
        return envelope.data.model_copy(update={"query": expr, "warnings": envelope.warnings})

    def raw_samples(self, selector: str, start: datetime, end: datetime) -> MatrixResult:
        """Every stored sample of ``selector`` in ``(start, end]``, at the times they were scraped.

        An instant query of the range selector ``selector[<end - start>]`` at
        ``end``: unlike :meth:`query_range` nothing is resampled onto a grid or
        carried forward across a gap, so a missed scrape stays missing.
        """
        span_ms = max(1, round((end - start).total_seconds() * 1000))
        return self._matrix(self.query(f"{selector}[{span_ms}ms]", at=end), selector)

    def alerts(self) -> list[PrometheusAlert]:
        """``GET /api/v1/alerts``: every pending or firing alert."""
        response = self._require_ok(self._get("/api/v1/alerts"))
        return self._decode(response, _ALERTS).data.alerts

    def rules(self, kind: Literal["alert", "record"] | None = None) -> list[RuleGroup]:
        """``GET /api/v1/rules``, optionally only alerting (``alert``) or recording rules."""
        params = {} if kind is None else {"type": kind}
        response = self._require_ok(self._get("/api/v1/rules", params))
        return self._decode(response, _RULES).data.groups

    def alerting_rule(self, name: str) -> AlertingRule | None:
        """The loaded alerting rule called ``name`` (None when no rule file defines it)."""
        for group in self.rules("alert"):
            for rule in group.rules:
                if isinstance(rule, AlertingRule) and rule.name == name:
                    return rule
        return None

    def _matrix(self, result: QueryResult, expr: str) -> MatrixResult:
        if not isinstance(result, MatrixResult):
            raise QueryError(
                self.backend, expr, "bad_data", f"expected a matrix, got {result.type}"
            )
        return result

    def _query_envelope(
        self, response: httpx.Response, expr: str, adapter: TypeAdapter[_Success[D]]
    ) -> _Success[D]:
        if response.is_client_error:
            try:
                failure = _FAILURE.validate_json(response.content)
            except ValidationError:
                raise self._unexpected(response, excerpt(response)) from None
            raise QueryError(self.backend, expr, failure.error_type, failure.error)
        return self._decode(self._require_ok(response), adapter)


__all__ = [
    "AlertState",
    "AlertingRule",
    "PrometheusAlert",
    "PrometheusClient",
    "RecordingRule",
    "Rule",
    "RuleGroup",
    "unix_seconds",
]
