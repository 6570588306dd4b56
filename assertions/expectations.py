"""What a run expects to see: one model per signal kind, all with a window and a deadline.

Every expectation has an ``id``, a ``kind`` (``metric``, ``alert``, ``trace``,
``sentry``, ``log``, ``health``), a :class:`Window` relative to a named fault
(or the whole run), and can be negated with ``absent: true``. Durations are
seconds or strings such as ``30s``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def parse_seconds(value: object) -> float:
    """Seconds from a number or a ``'500ms'``/``'30s'``/``'2m'``/``'1m30s'`` string."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("a duration is a number of seconds or a string such as '30s'")
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(
                    f"{value!r} is not a duration: write e.g. '500ms', '30s', '2m' or '1m30s'"
                )
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    else:
        seconds = float(value)
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Seconds = Annotated[float, BeforeValidator(parse_seconds)]
Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """When an observation counts.

    * ``fault`` + ``within``: from the fault's start until ``within`` after it;
    * ``fault`` + ``after_end``: from the fault's end until ``within`` after it
      (default 30 s) — e.g. an alert resolving;
    * no ``fault``: the whole run (from load start to load end).
    """

    fault: str | None = None
    within: Seconds | None = None
    after_end: bool = False

    @model_validator(mode="after")
    def _coherent(self) -> Window:
        if self.after_end and self.fault is None:
            raise ValueError("after_end needs the fault whose end it follows")
        return self


class _Base(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$")
    description: str = ""
    window: Window = Field(default_factory=Window)
    absent: bool = Field(
        default=False, description="pass only if no observation satisfies the rest by the deadline"
    )


class MetricExpectation(_Base):
    """A PromQL expression compared to a threshold, optionally holding for ``hold`` seconds."""

    kind: Literal["metric"] = "metric"
    query: str = Field(min_length=1)
    op: Comparison = ">"
    threshold: float
    hold: Seconds = 0.0


class AlertExpectation(_Base):
    """A named alert reaching ``firing`` (or ``resolved``), in Prometheus and at the webhook."""

    kind: Literal["alert"] = "alert"
    alert: str = Field(min_length=1)
    state: Literal["firing", "resolved"] = "firing"
    via: Literal["prometheus", "alertmanager", "both"] = "both"


class AttributeCondition(_Strict):
    key: str
    op: Literal["=", "!=", "<", ">", "contains"] = "="
    value: str | int | float | bool


class SpanRelation(_Strict):
    service: str | None = None
    operation: str | None = None


class TraceExpectation(_Base):
    """Spans in the spirit of Tracetest: a selector and a count."""

    kind: Literal["trace"] = "trace"
    service: str
    operation: str | None = None
    attributes: list[AttributeCondition] = Field(default_factory=list)
    min_duration: Seconds | None = None
    max_duration: Seconds | None = None
    error: bool | None = None
    parent: SpanRelation | None = None
    descendant_of: SpanRelation | None = None
    at_least: int = Field(default=1, ge=0)
    at_most: int | None = Field(default=None, ge=0)


class SentryExpectation(_Base):
    """An issue of the run (tagged with its ``run_id``) matching type, fingerprint, tags, level."""

    kind: Literal["sentry"] = "sentry"
    exception_type: str | None = None
    fingerprint: list[str] | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    level: str | None = None
    min_events: int = Field(default=1, ge=1)
    max_events: int | None = Field(default=None, ge=1)
    max_issues: int | None = Field(
        default=None, ge=1, description="at most this many distinct matching issues"
    )


class LogExpectation(_Base):
    """Log lines with an event name and field values, counted."""

    kind: Literal["log"] = "log"
    event: str
    level: str | None = None
    fields: dict[str, str | int | float | bool] = Field(default_factory=dict)
    require_fields: list[str] = Field(
        default_factory=list, description="fields that must be present with any value"
    )
    min_count: int = Field(default=1, ge=1)


class HealthExpectation(_Base):
    """The target's readiness or liveness answering a status (and naming a failing check)."""

    kind: Literal["health"] = "health"
    probe: Literal["readiness", "liveness"] = "readiness"
    status: int = 503
    failing: str | None = None


Expectation = Annotated[
    MetricExpectation
    | AlertExpectation
    | TraceExpectation
    | SentryExpectation
    | LogExpectation
    | HealthExpectation,
    Field(discriminator="kind"),
]
KINDS = ("metric", "alert", "trace", "sentry", "log", "health")
