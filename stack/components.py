"""The stack's components, one row each: what both stacks know about a component.

A :class:`Component` says what the component is called in ``stack.json``,
which components must be up before it starts (``needs``: the local stack's
bring-up order is derived from it, independent components start in
parallel), what its health probe asks, which :class:`~stack.state.Endpoints`
field records where it answers, whether its port is chosen before anything
starts (others need its address, not a running peer), how the compose stack
finds it (:class:`Service`), and what it gives Prometheus (a scrape job) and
Grafana (a :class:`Datasource`). How the local stack starts each one is
:data:`stack.starts.STARTS`, keyed by these names.

:data:`LAB` are the lab's own components; :func:`components` adds what a
target profile makes the lab run (each dependency with a ``command``,
Toxiproxy's proxies, the target) and leaves PostgreSQL out when no
dependency uses the lab's cluster.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from stack.profile import TARGET_COMPONENT, TargetProfile

PROMETHEUS_UID = "chaoslab-prometheus"
JAEGER_UID = "chaoslab-jaeger"
PROXIES = "proxies"
"""Toxiproxy's proxies for the profile's dependencies: a bring-up step, not a process."""
COMPOSE_APP_PORTS = {TARGET_COMPONENT: 8000, "classifier": 8001}
"""The container port of each component compose.yml builds from the lab's image."""


@dataclass(frozen=True)
class Service:
    """How the compose stack finds a component: its service, container port and probe."""

    service: str
    port: int
    health_path: str | None
    """None: a TCP connect is the probe (PostgreSQL)."""
    url: str = "http://{host}:{port}"
    """Where it answers, given the host and published port."""


@dataclass(frozen=True)
class Datasource:
    """A Grafana datasource (compose) backed by a component."""

    name: str
    uid: str
    type: str
    default: bool = False
    json_data: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Component:
    """One component of a stack (see the module docstring for each field's use)."""

    name: str
    needs: tuple[str, ...] = ()
    health_path: str | None = None
    """What the health probe GETs; None: a live process is enough (PostgreSQL)."""
    endpoint: str | None = None
    """The :class:`~stack.state.Endpoints` field holding its URL or DSN."""
    port_first: bool = False
    """Its port is chosen before anything starts: others need its address early."""
    service: Service | None = None
    datasource: Datasource | None = None
    scrape_job: str | None = None
    recorded: bool = True
    """False: not a process, so no entry in ``stack.json``'s components."""


POSTGRES = Component(
    "postgres",
    endpoint="postgres_dsn",
    service=Service("postgres", 5432, None, "postgresql://postgres@{host}:{port}/chaoslab"),
)
TOXIPROXY = Component(
    "toxiproxy",
    health_path="/version",
    endpoint="toxiproxy_url",
    service=Service("toxiproxy", 8474, "/version"),
)
TRACES = Component(
    "traces",
    health_path="/healthz",
    endpoint="traces_url",
    port_first=True,
    service=Service("jaeger", 16686, "/api/services"),
    datasource=Datasource(
        "Jaeger",
        JAEGER_UID,
        "jaeger",
        # From a span, back to the metrics of the same service.
        json_data=MappingProxyType({"tracesToMetrics": {"datasourceUid": PROMETHEUS_UID}}),
    ),
)
BUGSINK = Component(
    "bugsink",
    health_path="/health/ready",
    endpoint="bugsink_url",
    service=Service("bugsink", 8000, "/health/ready"),
)
WEBHOOK = Component(
    "webhook",
    health_path="/healthz",
    endpoint="webhook_url",
    port_first=True,
    service=Service("webhook", 9099, "/healthz"),
)
ALERTMANAGER = Component(
    "alertmanager",
    health_path="/-/ready",
    endpoint="alertmanager_url",
    port_first=True,
    service=Service("alertmanager", 9093, "/-/ready"),
)
PROMETHEUS = Component(
    "prometheus",
    # Last, once the target answers: a scrape of a target still starting makes TargetDown pend.
    needs=(TARGET_COMPONENT,),
    health_path="/-/ready",
    endpoint="prometheus_url",
    service=Service("prometheus", 9090, "/-/ready"),
    datasource=Datasource(
        "Prometheus",
        PROMETHEUS_UID,
        "prometheus",
        default=True,
        json_data=MappingProxyType(
            {
                "httpMethod": "POST",
                # Exemplars carrying a trace_id open the trace in Jaeger.
                "exemplarTraceIdDestinations": [{"name": "trace_id", "datasourceUid": JAEGER_UID}],
            }
        ),
    ),
)
GRAFANA = Component(
    "grafana", endpoint="grafana_url", service=Service("grafana", 3000, "/api/health")
)

LAB: tuple[Component, ...] = (
    POSTGRES,
    TOXIPROXY,
    TRACES,
    BUGSINK,
    WEBHOOK,
    ALERTMANAGER,
    PROMETHEUS,
)
"""The lab's own components, whatever the profile (``stack.json`` order of ``status``)."""
BY_NAME: Mapping[str, Component] = MappingProxyType({c.name: c for c in LAB})
LAB_NAMES = frozenset(BY_NAME)


def _app_service(name: str, health_path: str | None) -> Service | None:
    port = COMPOSE_APP_PORTS.get(name)
    return None if port is None else Service(name, port, health_path)


def components(profile: TargetProfile, compose: bool = False) -> tuple[Component, ...]:
    """Every component a stack runs for ``profile``: the lab's, the target, the dependencies.

    The proxies need the dependencies the lab starts (each proxy's upstream
    must answer), the target needs the proxies and Bugsink (the Sentry DSN),
    Prometheus the target; :func:`ordered` sorts by that. ``compose`` adds
    what only the compose stack runs (Grafana).
    """
    dependencies = tuple(
        Component(
            profile.dependency_component(name),
            health_path=dep.health,
            port_first=True,
            service=_app_service(profile.dependency_component(name), dep.health),
        )
        for name, dep in profile.dependencies.items()
        if dep.command is not None
    )
    lab_postgres = any(dep.lab_postgres for dep in profile.dependencies.values())
    proxies = Component(
        PROXIES,
        needs=(
            *((POSTGRES.name,) if lab_postgres else ()),
            TOXIPROXY.name,
            *(dep.name for dep in dependencies),
        ),
        service=TOXIPROXY.service,
        recorded=False,
    )
    target = Component(
        TARGET_COMPONENT,
        needs=(PROXIES, BUGSINK.name),
        health_path=profile.health.live_path,
        endpoint="target_url",
        port_first=True,
        service=_app_service(TARGET_COMPONENT, profile.health.live_path),
        scrape_job=profile.job_name,
    )
    lab = tuple(c for c in LAB if lab_postgres or compose or c is not POSTGRES)
    extra = (GRAFANA,) if compose else ()
    return (*lab, target, *extra, *dependencies, proxies)


def ordered(table: Sequence[Component]) -> tuple[Component, ...]:
    """``table`` in an order where every component comes after what it needs (stable)."""
    names = {c.name for c in table}
    for component in table:
        unknown = set(component.needs) - names
        if unknown:
            raise ValueError(f"{component.name} needs {sorted(unknown)}, not in the table")
    placed: list[Component] = []
    done: set[str] = set()
    waiting = list(table)
    while waiting:
        ready = [c for c in waiting if set(c.needs) <= done]
        if not ready:
            cycle = ", ".join(c.name for c in waiting)
            raise ValueError(f"components that need each other: {cycle}")
        placed.extend(ready)
        done.update(c.name for c in ready)
        waiting = [c for c in waiting if c.name not in done]
    return tuple(placed)


def scrape_targets(table: Sequence[Component], address: Mapping[str, str]) -> dict[str, str]:
    """Prometheus's jobs: each scraped component's job and its ``address`` (``host:port``)."""
    return {c.scrape_job: address[c.name] for c in table if c.scrape_job is not None}


def datasources(table: Sequence[Component]) -> list[Datasource]:
    """The Grafana datasources the components back."""
    return [c.datasource for c in table if c.datasource is not None]


__all__ = [
    "BY_NAME",
    "COMPOSE_APP_PORTS",
    "JAEGER_UID",
    "LAB",
    "LAB_NAMES",
    "PROMETHEUS_UID",
    "PROXIES",
    "Component",
    "Datasource",
    "Service",
    "components",
    "datasources",
    "ordered",
    "scrape_targets",
]
