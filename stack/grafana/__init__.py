"""The compose stack's Grafana dashboard, built as code with ``grafana-foundation-sdk``.

``python -m stack.grafana`` writes ``compose/grafana/dashboards/chaoslab.json``
(the file Grafana provisions); ``tests/unit/test_grafana_dashboard.py`` fails
when the committed JSON and :func:`build` differ. The SDK is a dev dependency:
nothing at run time imports this package.
"""

from __future__ import annotations

from stack.grafana.dashboard import (
    DASHBOARD_PATH,
    DASHBOARD_UID,
    JAEGER_UID,
    PANELS,
    PROMETHEUS_UID,
    PanelSpec,
    Query,
    Row,
    TracePanel,
    build,
    main,
    render,
)

__all__ = [
    "DASHBOARD_PATH",
    "DASHBOARD_UID",
    "JAEGER_UID",
    "PANELS",
    "PROMETHEUS_UID",
    "PanelSpec",
    "Query",
    "Row",
    "TracePanel",
    "build",
    "main",
    "render",
]
