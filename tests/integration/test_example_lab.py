"""Testing an observability signal with chaoslab's pytest plugin — an example to copy.

The ``lab`` fixture comes from the chaoslab pytest plugin (installed with the
package, nothing to configure). It starts the local stack once per session —
PostgreSQL, the target service, Prometheus, Alertmanager, Bugsink, the trace
store — or reuses a running one with ``--chaoslab-stack=.chaoslab`` after
``chaoslab up``. See docs/assertions.md.
"""

from __future__ import annotations

import time

import pytest

from assertions.expectations import SentryExpectation, Window
from assertions.lab import Lab

pytestmark = pytest.mark.integration


def test_an_exception_storm_is_counted_and_reaches_sentry(lab: Lab) -> None:
    # 1. Inject a fault through the target's chaos API: from now on every
    #    request raises LedgerMismatchError. lab.fault() names the fault (the
    #    expectations' windows refer to it) and switches it off again when the
    #    block ends, whatever happens inside.
    with lab.fault("bug-path", exception_rate=1.0, exception_type="LedgerMismatchError"):
        # 2. Send some traffic. Requests from lab.target() carry the lab's run
        #    id (X-Chaoslab-Run), which the target puts on its log lines, spans
        #    and Sentry events: expectations only see this run's signals.
        with lab.target() as target:
            for _ in range(15):
                assert target.get("/api/documents").status_code == 500
                time.sleep(0.2)  # spread over a few 1 s scrapes, so rate() sees it

        # 3. Expect the signals. An expectation is written exactly as in a
        #    scenario file (a dict) or as its model; lab.expect() polls it until
        #    it holds or its window closes — here 20 s after the fault started —
        #    and raises ExpectationFailed, showing the query and what it saw
        #    instead, if it never does.
        counted = lab.expect(
            {
                "id": "exceptions-counted",
                "kind": "metric",
                "query": 'sum(rate(app_exceptions_total{job="target",'
                'type="LedgerMismatchError"}[30s]))',
                "op": ">",
                "threshold": 0,
                "window": {"fault": "bug-path", "within": "20s"},
            }
        )
        grouped = lab.expect(
            SentryExpectation(
                id="one-sentry-issue",
                exception_type="LedgerMismatchError",
                fingerprint=["chaos-exception", "LedgerMismatchError"],
                min_events=10,
                max_issues=1,
                window=Window(fault="bug-path", within=20),
            )
        )

    # 4. Each verdict says how fast the signal surfaced after the fault started.
    assert counted.time_to_detect_s is not None
    assert grouped.time_to_detect_s is not None
    print(f"metric after {counted.time_to_detect_s}s, Sentry after {grouped.time_to_detect_s}s")

    # 5. Outside the block the fault is switched off again.
    with lab.target() as target:
        assert target.get("/api/documents").status_code == 200
