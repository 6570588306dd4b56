"""A missing backend client makes an expectation an ``error`` verdict, never an AssertionError."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from assertions.engine import Engine
from assertions.exceptions import BackendNotConfigured, ExpectationError
from assertions.expectations import (
    AlertExpectation,
    Expectation,
    HealthExpectation,
    LogExpectation,
    MetricExpectation,
    SentryExpectation,
    TraceExpectation,
    Window,
)
from assertions.probes import (
    Backends,
    Observation,
    observe_alert,
    observe_health,
    observe_log,
    observe_metric,
    observe_sentry,
    observe_trace,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
WINDOW = Window(within=10)

METRIC = MetricExpectation(id="m", query="up", threshold=0, window=WINDOW)
ALERT = AlertExpectation(id="a", alert="TargetDown", window=WINDOW)
TRACE = TraceExpectation(id="t", service="target", window=WINDOW)
SENTRY = SentryExpectation(id="s", window=WINDOW)
LOG = LogExpectation(id="l", event="request.error", window=WINDOW)
HEALTH = HealthExpectation(id="h", probe="readiness", status=503, window=WINDOW)


@pytest.mark.parametrize(
    ("look", "backend"),
    [
        (lambda b: observe_metric(METRIC, b), "Prometheus"),
        (lambda b: observe_alert(ALERT, b, T0), "Prometheus"),
        (lambda b: observe_trace(TRACE, b, T0), "the trace store"),
        (lambda b: observe_sentry(SENTRY, b, T0), "Sentry (Bugsink)"),
        (lambda b: observe_log(LOG, b, T0), "the target's log"),
        (lambda b: observe_health(HEALTH, b), "the target's health endpoints"),
    ],
)
def test_each_probe_names_the_missing_backend(
    look: Callable[[Backends], Observation], backend: str
) -> None:
    with pytest.raises(BackendNotConfigured) as raised:
        look(Backends())

    assert raised.value.backend == backend
    assert isinstance(raised.value, ExpectationError)
    assert not isinstance(raised.value, AssertionError)
    assert f"this run has no {backend} client" in str(raised.value)


def test_an_alert_via_the_webhook_needs_the_notification_log() -> None:
    via_webhook = AlertExpectation(id="a", alert="TargetDown", via="alertmanager", window=WINDOW)

    with pytest.raises(BackendNotConfigured, match="Alertmanager webhook"):
        observe_alert(via_webhook, Backends(), T0)


@pytest.mark.parametrize("exp", [METRIC, TRACE, SENTRY, LOG, HEALTH], ids=lambda e: e.kind)
def test_the_engine_settles_it_as_an_error_at_the_first_look(exp: Expectation) -> None:
    engine = Engine([exp], Backends(), T0)

    [verdict] = engine.poll(T0 + timedelta(seconds=1), {})

    assert verdict.status == "error"
    assert "this run has no" in verdict.message
