"""Alert noise around a run: wait for a quiet stack, and list alerts nobody expected.

A run starts only when Prometheus has no alert pending or firing (restarting
the target to apply settings, or the previous run, must not leak alerts into
this one), and afterwards every alert that fired during the run although no
expectation names it goes into the journal as ``unexpected_alerts``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime

from assertions import PrometheusClient
from assertions.exceptions import AssertionsError
from scenarios.clock import Clock
from scenarios.exceptions import LabNotReady
from scenarios.journal import UnexpectedAlert

QUIET_TIMEOUT_S = 120.0
QUIET_POLL_S = 1.0


def active_alerts(client: PrometheusClient) -> list[str]:
    """``name (state)`` of every pending or firing alert."""
    return sorted({f"{a.name} ({a.state})" for a in client.alerts()})


def wait_quiet(
    client: PrometheusClient,
    clock: Clock,
    timeout: float = QUIET_TIMEOUT_S,
    on_wait: Callable[[str], None] | None = None,
) -> float:
    """Block until no alert is pending or firing; returns seconds waited.

    Raises :class:`LabNotReady` naming the alerts still active after ``timeout``.
    """
    started = clock.monotonic()
    announced = False
    while True:
        try:
            active = active_alerts(client)
        except AssertionsError as exc:
            raise LabNotReady(f"cannot ask Prometheus for active alerts: {exc}") from exc
        if not active:
            return clock.monotonic() - started
        waited = clock.monotonic() - started
        if waited >= timeout:
            raise LabNotReady(
                f"alerts still active {timeout:g} s before the run could start: "
                + ", ".join(active)
            )
        if not announced and on_wait is not None:
            on_wait(f"waiting for active alerts to resolve: {', '.join(active)}")
            announced = True
        clock.sleep(QUIET_POLL_S)


def unexpected_alerts(
    client: PrometheusClient,
    start: datetime,
    end: datetime,
    expected: Collection[str],
    step_s: float = 1.0,
) -> list[UnexpectedAlert]:
    """Alerts that were firing between ``start`` and ``end`` and are not in ``expected``."""
    result = client.query_range('ALERTS{alertstate="firing"}', start, end, step_s)
    found: list[UnexpectedAlert] = []
    for series in result.series:
        labels = {k: v for k, v in series.labels.items() if k not in ("__name__", "alertstate")}
        name = labels.get("alertname", "")
        if name in expected or not series.samples:
            continue
        first = min(sample.at for sample in series.samples)
        found.append(UnexpectedAlert(alertname=name, labels=labels, first_firing_at=first))
    return sorted(found, key=lambda alert: alert.first_firing_at)
