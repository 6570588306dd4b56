"""How the local stack starts each component of :mod:`stack.components`.

:data:`STARTS` maps a component's name to its start; a dependency the target
profile makes the lab start has :func:`dependency`. A start spawns the
component through :meth:`LocalStack.launch <stack.local.LocalStack.launch>`
(its process is recorded in ``stack.json`` the moment it is spawned, then
health-gated) and returns what came up; :meth:`~stack.local.LocalStack.up`
records where it answers (the row's ``endpoint``) once the gate passes. The
proxies are no process: their start creates one Toxiproxy proxy per
dependency and returns nothing.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import httpx

from stack.alerting import AlertmanagerServer, AlertWebhook, PrometheusServer
from stack.apps import ServiceProcess, http_ok
from stack.bugsink import BugsinkServer
from stack.components import (
    ALERTMANAGER,
    BUGSINK,
    POSTGRES,
    PROMETHEUS,
    PROXIES,
    TOXIPROXY,
    TRACES,
    WEBHOOK,
    Component,
    scrape_targets,
)
from stack.consoles import Links, write_consoles
from stack.exceptions import ComponentFailed, ProfileRejected
from stack.ports import LOOPBACK, free_port
from stack.postgres import PostgresCluster
from stack.profile import TARGET_COMPONENT, fill
from stack.state import ComponentState, ProfileRecord, profile_digest
from stack.toxiproxy import pick_server
from stack.tracestore import TraceStoreProcess

if TYPE_CHECKING:
    from stack.local import LocalStack  # it imports this module

EXTERNAL_TARGET_WAIT_S = 10.0


class Stoppable(Protocol):
    """What a started component hands back: something to stop."""

    def stop(self) -> None: ...


class _Nothing:
    """The handle of a service the lab did not start: stopping it does nothing."""

    def stop(self) -> None:
        return None


def _address(url_or_dsn: str) -> str:
    """``host:port`` of a URL or DSN."""
    rest = url_or_dsn.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1].split("/", 1)[0]


@dataclass(frozen=True)
class Started:
    """A component that came up: its handle, where it answers and how long it took."""

    name: str
    handle: Stoppable
    url: str
    seconds: float
    kind: str | None = None


def proxies(lab: LocalStack, component: Component) -> None:
    """One Toxiproxy proxy per dependency of the profile, named after it."""
    ep = lab.endpoints
    for name, dep in lab.profile.dependencies.items():
        if dep.lab_postgres:
            upstream = _address(ep.postgres_dsn)
            ep.database_dsns[name] = ep.postgres_dsn
        elif dep.command is not None:
            upstream = f"{LOOPBACK}:{lab.ports[lab.profile.dependency_component(name)]}"
        else:
            upstream = str(dep.upstream)
            if dep.dsn is not None:
                ep.database_dsns[name] = dep.dsn
        _create_proxy(lab, name, upstream)


def _values(lab: LocalStack, port: int, log_dir: Path) -> dict[str, str]:
    """What the profile's placeholders stand for, for one component."""
    ep = lab.endpoints
    values = {
        "python": sys.executable,
        "host": LOOPBACK,
        "port": str(port),
        "profile_dir": str(lab.profile.folder),
        "log_dir": str(log_dir),
        "log_file": ep.target_log,
        "sentry_dsn": ep.sentry_dsn,
        "otlp_endpoint": ep.traces_url,
        "otlp_traces_endpoint": ep.otlp_endpoint,
        "chaos_token": ep.chaos_token,
        "seed": "" if lab.seed is None else str(lab.seed),
    }
    for name, dep in lab.profile.dependencies.items():
        listen = ep.proxies.get(name)
        if listen is None:
            continue
        host, _, dep_port = listen.rpartition(":")
        values[f"dep.{name}.host"] = host
        values[f"dep.{name}.port"] = dep_port
        values[f"dep.{name}.address"] = listen
        values[f"dep.{name}.url"] = f"http://{listen}"
        direct = ep.database_dsns.get(name)
        if dep.kind == "postgres":
            values[f"dep.{name}.dsn"] = (
                direct.replace(_address(direct), listen, 1)
                if direct
                else f"postgresql://{listen}/postgres"
            )
    return values


def _filled(env: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """The profile's environment filled in; a variable that comes out empty is not set."""
    filled = {key: fill(value, dict(values)) for key, value in env.items()}
    return {key: value for key, value in filled.items() if value != ""}


def dependency(lab: LocalStack, component: Component) -> Started:
    """A dependency the profile says the lab starts (before its proxy exists)."""
    profile = lab.profile
    name = next(
        n for n in profile.dependencies if profile.dependency_component(n) == component.name
    )
    dep = profile.dependencies[name]
    port = lab.ports[component.name]
    log_dir = lab.component_dir(component.name)
    values = _values(lab, port, log_dir)
    process = ServiceProcess(
        component.name,
        [fill(arg, values) for arg in dep.command or []],
        log_dir,
        port,
        env=_filled(dep.env, values),
        cwd=None if dep.cwd is None else profile.path(fill(dep.cwd, values)),
        ready_path=dep.health,
        settings=lab.settings.get(component.name, {}),
    )
    try:
        started = lab.launch(component, process, process.url, process.start)
    except ComponentFailed as exc:
        raise ProfileRejected(
            ("dependencies", name, "command"), f"dependency {name}'s command failed: {exc}"
        ) from exc
    lab.endpoints.dependency_urls[name] = process.url
    return started


def postgres(lab: LocalStack, component: Component) -> Started:
    cluster = PostgresCluster(log_dir=lab.component_dir(component.name))
    return lab.launch(component, cluster, cluster.dsn(), cluster.start)


def toxiproxy(lab: LocalStack, component: Component) -> Started:
    log_path = lab.component_dir(component.name) / "toxiproxy.log"
    server = pick_server(seed=lab.seed, in_process=False, log_path=log_path)
    started = lab.launch(component, server, server.api_url, server.start)
    return dataclasses.replace(started, kind=server.kind)


def traces(lab: LocalStack, component: Component) -> Started:
    store = TraceStoreProcess(lab.component_dir(component.name), port=lab.ports[component.name])
    lab.endpoints.otlp_endpoint = store.otlp_endpoint
    return lab.launch(component, store, store.url, store.start)


def bugsink(lab: LocalStack, component: Component) -> Started:
    """Bugsink; available to what needs it as soon as its DSN is known (the target)."""
    server = BugsinkServer(lab.component_dir(component.name))

    def publish() -> None:
        ep = lab.endpoints
        ep.bugsink_url = server.url
        ep.sentry_dsn = server.dsn
        ep.sentry_api_token = server.api_token
        ep.bugsink_login = (
            f"{server.provisioning.admin_email} / {server.provisioning.admin_password}"
        )
        ep.sentry_project_id = server.project_id
        lab.announce(component.name)

    return lab.launch(component, server, server.url, lambda: server.start(on_launched=publish))


def webhook(lab: LocalStack, component: Component) -> Started:
    webhook = AlertWebhook(lab.component_dir(component.name), port=lab.ports[component.name])
    lab.endpoints.notifications_file = str(webhook.out_path)
    return lab.launch(component, webhook, webhook.url, webhook.start)


def _create_proxy(lab: LocalStack, name: str, upstream: str) -> str:
    listen = f"{LOOPBACK}:{free_port()}"
    body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
    response = httpx.post(lab.endpoints.toxiproxy_url + "/proxies", json=body, timeout=5)
    if response.status_code != httpx.codes.CREATED:
        raise ComponentFailed(
            "toxiproxy",
            f"could not create proxy {name!r}: {response.status_code} {response.text}",
            ["POST", lab.endpoints.toxiproxy_url + "/proxies"],
            "",
        )
    listen = response.json()["listen"]
    with lab.lock:
        lab.endpoints.proxies[name] = listen
    lab.save()
    return str(listen)


def alertmanager(lab: LocalStack, component: Component) -> Started:
    webhook_receiver = lab.endpoints.webhook_url + "/alerts"
    port = lab.ports[component.name]
    server = AlertmanagerServer(lab.component_dir(component.name), webhook_receiver, port)
    # A notification log left by an earlier stack would keep this one silent
    # about an alert that stack notified (same labels, repeat_interval 1h).
    shutil.rmtree(server.storage_path, ignore_errors=True)
    return lab.launch(component, server, server.url, server.start)


def prometheus(lab: LocalStack, component: Component) -> Started:
    profile = lab.profile
    ep = lab.endpoints
    alertmanager = f"{LOOPBACK}:{lab.ports[ALERTMANAGER.name]}"
    prometheus_dir = lab.component_dir(component.name)
    links = Links(f"http://{alertmanager}", ep.bugsink_url, ep.traces_url)
    consoles = write_consoles(prometheus_dir, profile, links)
    server = PrometheusServer(
        prometheus_dir,
        scrape_targets=scrape_targets(lab.table, {TARGET_COMPONENT: _address(ep.target_url)}),
        rule_files=tuple(profile.rule_paths()),
        alertmanager=alertmanager,
        metrics_paths=tuple(profile.metrics),
        rule_time_scale=profile.rule_scale(),
        console_templates=consoles.templates,
        console_libraries=consoles.libraries,
    )
    # An earlier stack's samples (its target's last `up == 0`, recorded while
    # it was stopped) would make TargetDown fire here for five minutes.
    shutil.rmtree(server.tsdb_path, ignore_errors=True)
    started = lab.launch(component, server, server.url, server.start)
    ep.dashboard_url = consoles.url(server.url)
    lab.state.profile = ProfileRecord(
        name=profile.name,
        source=str(profile.source or ""),
        digest=profile_digest(profile),
        job=profile.job_name,
        rule_time_scale=str(profile.rule_scale()),
        rule_files=[str(path) for path in server.loaded_rule_files],
    )
    lab.save()
    return started


def target(lab: LocalStack, component: Component) -> Started:
    """The service under test: started from its command, or found at its url."""
    profile = lab.profile
    ep = lab.endpoints
    port = lab.ports[component.name]
    log_dir = lab.component_dir(component.name)
    ep.target_log = str(log_dir / "target.jsonl")
    values = _values(lab, port, log_dir)
    if profile.log_file is not None:
        ep.target_log = str(lab.profile.path(fill(profile.log_file, values)))
        values["log_file"] = ep.target_log
    first_pg = next((n for n, d in profile.dependencies.items() if d.kind == "postgres"), None)
    if first_pg is not None:
        ep.target_dsn = values.get(f"dep.{first_pg}.dsn", "")
    if profile.url is not None:
        url = profile.url.rstrip("/")
        values["port"] = url.rsplit(":", 1)[-1] if url.count(":") == 2 else "80"
        ep.target_env = _filled(profile.env, values)
        if not lab.wait_for_target:
            return _external_target(lab, url, wait=False)
        started = _external_target(lab, url)
        _check_metrics(lab, started.url)
        return started
    ep.target_env = _filled(profile.env, values)
    process = ServiceProcess(
        component.name,
        [fill(arg, values) for arg in profile.command or []],
        log_dir,
        port,
        env=ep.target_env,
        cwd=None if profile.cwd is None else profile.path(fill(profile.cwd, values)),
        ready_path=profile.health.ready,
        settings=lab.settings.get(component.name, {}),
    )
    try:
        started = lab.launch(component, process, process.url, process.start)
    except ComponentFailed as exc:
        raise ProfileRejected(("command",), f"the target's command failed: {exc}") from exc
    _check_metrics(lab, process.url)
    return started


def _check_metrics(lab: LocalStack, url: str) -> None:
    """Every metrics path answers Prometheus text before Prometheus scrapes it."""
    for index, path in enumerate(lab.profile.metrics):
        try:
            response = httpx.get(url + path, timeout=5.0)
        except httpx.HTTPError as exc:
            raise ProfileRejected(("metrics", index), f"GET {url}{path}: {exc}") from exc
        if response.status_code != httpx.codes.OK:
            raise ProfileRejected(
                ("metrics", index),
                f"metrics path {path} answered {response.status_code}, not 200 (GET {url}{path})",
            )


def _external_target(lab: LocalStack, url: str, wait: bool = True) -> Started:
    """A service the user runs: the lab only checks that it answers its health path."""
    started = time.monotonic()
    health = url + lab.profile.health.ready
    deadline = started + EXTERNAL_TARGET_WAIT_S
    while wait and not http_ok(health):
        if time.monotonic() > deadline:
            raise ProfileRejected(
                ("url",),
                f"url {url} does not answer: GET {health} gave no 2xx within "
                f"{EXTERNAL_TARGET_WAIT_S:g} s (start your service first)",
            )
        time.sleep(0.25)
    lab.endpoints.target_url = url
    with lab.lock:
        lab.state.components[TARGET_COMPONENT] = ComponentState(
            url=url, kind="external", health_path=lab.profile.health.live_path
        )
    return Started(TARGET_COMPONENT, _Nothing(), url, time.monotonic() - started, "external")


Start = Callable[["LocalStack", Component], Started | None]
STARTS: Mapping[str, Start] = {
    POSTGRES.name: postgres,
    TOXIPROXY.name: toxiproxy,
    TRACES.name: traces,
    BUGSINK.name: bugsink,
    WEBHOOK.name: webhook,
    ALERTMANAGER.name: alertmanager,
    PROMETHEUS.name: prometheus,
    PROXIES: proxies,
    TARGET_COMPONENT: target,
}
"""How each component of the table starts (a dependency of the profile: :func:`dependency`)."""

__all__ = ["STARTS", "Start", "Started", "Stoppable", "dependency"]
