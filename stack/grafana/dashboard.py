"""The chaoslab dashboard for the compose stack's Grafana, as code.

Every panel is a :class:`PanelSpec` in :data:`PANELS`: a title, a unit and its
queries, written out in plain PromQL (no Grafana template variables, so the
integration test runs each one verbatim against the lab's Prometheus). The
``grafana-foundation-sdk`` builders turn the specs into the dashboard model and
``cog``'s JSON encoder into the JSON Grafana provisions from
``compose/grafana/dashboards/chaoslab.json``. Regenerate that file with::

    uv run python -m stack.grafana

Datasources are referenced by uid (:data:`PROMETHEUS_UID`, :data:`JAEGER_UID`), the
uids the table of components (:mod:`stack.components`) gives them, as does the
``compose/grafana/provisioning/datasources/datasources.yml`` generated from it.

Rate windows are ``[30s]``: at least three samples for any scrape interval up
to 10 s (the lab scrapes every second), and short enough that a fault shows
within seconds.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from stack.components import JAEGER_UID as JAEGER_UID  # re-exported: the uids live there
from stack.components import PROMETHEUS_UID as PROMETHEUS_UID

DASHBOARD_UID = "chaoslab"
FAULT_TAG = "chaoslab-fault"

DASHBOARD_PATH = (
    Path(__file__).resolve().parents[2] / "compose" / "grafana" / "dashboards" / "chaoslab.json"
)

PROMETHEUS = DataSourceRef(type_val="prometheus", uid=PROMETHEUS_UID)
JAEGER = DataSourceRef(type_val="jaeger", uid=JAEGER_UID)
GRAFANA = DataSourceRef(type_val="grafana", uid="-- Grafana --")

_JOB = 'job="target"'
_API = f'{_JOB}, route=~"/api/.*"'
_WINDOW = "[30s]"

Kind = Literal["timeseries", "state"]


@dataclass(frozen=True)
class Query:
    """One target of a panel: PromQL (or, for a traces panel, a Jaeger search) and its legend."""

    expr: str
    legend: str = ""


@dataclass(frozen=True)
class PanelSpec:
    """A panel: what it shows (``signal``, for the coverage test), how, and its queries."""

    signal: str
    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    kind: Kind = "timeseries"
    width: int = 12


@dataclass(frozen=True)
class TracePanel:
    """A table of Jaeger search results: ``service``'s traces lasting ``min_duration`` or more."""

    signal: str
    title: str
    description: str
    service: str
    min_duration: str
    limit: int = 20
    width: int = 12


@dataclass(frozen=True)
class Row:
    """A row header; the panels after it belong to it."""

    title: str


def _quantiles(metric: str, by: str = "", *qs: float) -> tuple[Query, ...]:
    """``histogram_quantile`` of ``metric`` at each of ``qs``, grouped by ``by`` and ``le``."""
    group = f"{by}, le" if by else "le"
    legend_prefix = " ".join(f"{{{{{label.strip()}}}}}" for label in by.split(",") if by)
    return tuple(
        Query(
            f"histogram_quantile({q}, sum by ({group}) (rate({metric}{_WINDOW})))",
            f"{legend_prefix} p{round(q * 100)}".strip(),
        )
        for q in qs
    )


PANELS: tuple[PanelSpec | TracePanel | Row, ...] = (
    Row("Golden signals"),
    PanelSpec(
        signal="request_rate",
        title="Request rate by route",
        description="API requests per second, by route template.",
        unit="reqps",
        queries=(
            Query(f"sum by (route) (rate(http_requests_total{{{_API}}}{_WINDOW}))", "{{route}}"),
        ),
    ),
    PanelSpec(
        signal="error_rate",
        title="Error ratio by route (5xx)",
        description=(
            "Share of API requests answered with a 5xx status, by route; "
            "0 while a route serves traffic without errors."
        ),
        unit="percentunit",
        queries=(
            Query(
                f'(sum by (route) (rate(http_requests_total{{{_API}, status=~"5.."}}{_WINDOW}))'
                f" or 0 * sum by (route) (rate(http_requests_total{{{_API}}}{_WINDOW})))"
                f" / sum by (route) (rate(http_requests_total{{{_API}}}{_WINDOW}))",
                "{{route}}",
            ),
        ),
    ),
    PanelSpec(
        signal="latency",
        title="Latency p50 / p95 / p99",
        description=(
            "API request duration quantiles. Requests still in flight are not in the "
            "histogram yet: see requests in flight."
        ),
        unit="s",
        queries=_quantiles(f"http_request_duration_seconds_bucket{{{_API}}}", "", 0.5, 0.95, 0.99),
    ),
    PanelSpec(
        signal="in_flight",
        title="Requests in flight",
        description="Requests being served right now.",
        unit="short",
        queries=(Query(f"sum(http_requests_in_progress{{{_JOB}}})", "in flight"),),
    ),
    Row("Database pool"),
    PanelSpec(
        signal="pool_connections",
        title="Pool connections: size / in use / idle / max",
        description=(
            "Connections the pool holds, checked out by requests, open but unused, and the "
            "configured maximum. In use at max with callers waiting is an exhausted pool."
        ),
        unit="short",
        queries=(
            Query(f"max(db_pool_size{{{_JOB}}})", "size"),
            Query(f"max(db_pool_in_use{{{_JOB}}})", "in use"),
            Query(f"max(db_pool_idle{{{_JOB}}})", "idle"),
            Query(f"max(db_pool_max{{{_JOB}}})", "max"),
        ),
    ),
    PanelSpec(
        signal="pool_waiting",
        title="Pool waiters",
        description="Callers queued waiting for a free connection (alert DatabasePoolWaiters).",
        unit="short",
        queries=(Query(f"max(db_pool_waiting{{{_JOB}}})", "waiting"),),
    ),
    PanelSpec(
        signal="pool_acquire",
        title="Pool acquire wait p95 / p99",
        description="How long a request waited for a database connection.",
        unit="s",
        queries=_quantiles(f"db_pool_acquire_seconds_bucket{{{_JOB}}}", "", 0.95, 0.99),
    ),
    PanelSpec(
        signal="query_duration",
        title="Query duration p95 by operation",
        description="Database query duration, by logical operation (time in the pool excluded).",
        unit="s",
        queries=_quantiles(f"db_query_duration_seconds_bucket{{{_JOB}}}", "operation", 0.95),
    ),
    Row("Dependencies, errors and health"),
    PanelSpec(
        signal="downstream_latency",
        title="Downstream latency p95 by outcome",
        description=(
            "Calls to downstream services, by service and outcome (success, error, timeout)."
        ),
        unit="s",
        queries=_quantiles(
            f"downstream_request_duration_seconds_bucket{{{_JOB}}}", "service, outcome", 0.95
        ),
    ),
    PanelSpec(
        signal="exceptions",
        title="Exceptions by type",
        description='Exceptions that failed a request, per second by type ("none" at 0 when none).',
        unit="ops",
        queries=(
            Query(
                f"sum by (type) (rate(app_exceptions_total{{{_JOB}}}{_WINDOW}))"
                ' or on () label_replace(vector(0), "type", "none", "", "")',
                "{{type}}",
            ),
        ),
    ),
    PanelSpec(
        signal="health_check_duration",
        title="Readiness check duration p95",
        description=(
            "Duration of each /readiness dependency check, by check; only while something "
            "probes /readiness (a load balancer, the compose healthcheck)."
        ),
        unit="s",
        queries=_quantiles(f"health_check_duration_seconds_bucket{{{_JOB}}}", "check", 0.95),
        width=24,
    ),
    Row("Alerts and traces"),
    PanelSpec(
        signal="alerts",
        title="Firing alerts",
        description="Every alert while it fires (Prometheus ALERTS series).",
        unit="short",
        queries=(Query('ALERTS{alertstate="firing"}', "{{alertname}}"),),
        kind="state",
    ),
    TracePanel(
        signal="slow_traces",
        title="Slow requests (traces over 1 s)",
        description="The target's traces that took a second or more, from Jaeger.",
        service="target",
        min_duration="1s",
    ),
)


class JaegerSearch(cogvariants.Dataquery):
    """A Jaeger datasource search query (the SDK ships no Jaeger builder)."""

    def __init__(self, service: str, min_duration: str, limit: int) -> None:
        self.service = service
        self.min_duration = min_duration
        self.limit = limit

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": JAEGER.to_json(),
            "limit": self.limit,
            "minDuration": self.min_duration,
            "queryType": "search",
            "refId": "A",
            "service": self.service,
        }


class JaegerSearchBuilder(cogbuilder.Builder[JaegerSearch]):
    def __init__(self, service: str, min_duration: str, limit: int = 20) -> None:
        self._internal = JaegerSearch(service, min_duration, limit)

    def build(self) -> JaegerSearch:
        return self._internal


def _ref_id(index: int) -> str:
    return chr(ord("A") + index)


def _prometheus_targets(spec: PanelSpec) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    return [
        prometheus.Dataquery()
        .expr(query.expr)
        .legend_format(query.legend)
        .range()
        .ref_id(_ref_id(i))
        .datasource(PROMETHEUS)
        for i, query in enumerate(spec.queries)
    ]


def _trace_panel(spec: TracePanel, panel_id: int) -> table.Panel:
    return (
        table.Panel()
        .id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(JAEGER)
        .with_target(JaegerSearchBuilder(spec.service, spec.min_duration, spec.limit))
        .height(8)
        .span(spec.width)
    )


def _panel(spec: PanelSpec, panel_id: int) -> timeseries.Panel | statetimeline.Panel:
    if spec.kind == "state":
        return (
            statetimeline.Panel()
            .id(panel_id)
            .title(spec.title)
            .description(spec.description)
            .datasource(PROMETHEUS)
            .targets(_prometheus_targets(spec))
            .height(8)
            .span(spec.width)
        )
    return (
        timeseries.Panel()
        .id(panel_id)
        .title(spec.title)
        .description(spec.description)
        .datasource(PROMETHEUS)
        .targets(_prometheus_targets(spec))
        .unit(spec.unit)
        .min(0)
        .height(8)
        .span(spec.width)
    )


def build() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (plain JSON values)."""
    builder = (
        dash.Dashboard("chaoslab")
        .uid(DASHBOARD_UID)
        .description(
            "The bundled target (job target) during a chaoslab run: golden signals, the "
            "connection pool, dependencies, errors, health checks, alerts and slow traces."
        )
        .tags(["chaoslab"])
        .editable()
        .refresh("5s")
        .time("now-15m", "now")
        .timezone("browser")
        .annotation(
            dash.AnnotationQuery()
            .name("Faults")
            .datasource(GRAFANA)
            .enable(True)
            .icon_color("red")
            .target(dash.AnnotationTarget().type("tags").tags([FAULT_TAG]).limit(100))
        )
    )
    panel_id = 1
    for item in PANELS:
        if isinstance(item, Row):
            builder = builder.with_row(dash.Row(item.title).id(panel_id))
        elif isinstance(item, TracePanel):
            builder = builder.with_panel(_trace_panel(item, panel_id))
        else:
            builder = builder.with_panel(_panel(item, panel_id))
        panel_id += 1
    model: dict[str, Any] = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return model


def render() -> str:
    """:func:`build` as the committed file's text: sorted keys, two-space indent, final newline."""
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """Write the dashboard JSON (default: the file the compose stack provisions)."""
    parser = argparse.ArgumentParser(prog="python -m stack.grafana", description=__doc__)
    parser.add_argument("--out", type=Path, default=DASHBOARD_PATH, help="where to write the JSON")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render())
    print(f"wrote {out}")
