"""The local stack: every backend a real process on 127.0.0.1, under one state directory.

    with LocalStack(Path(".chaoslab")) as lab:
        httpx.get(lab.endpoints.target_url + "/readiness")

Start order follows what each component needs (:mod:`stack.components`, one
row per component; :data:`STARTS` says how each starts here), with
independent components started in parallel: PostgreSQL, Toxiproxy, the trace
store, Bugsink, the alert webhook, Alertmanager (its webhook's port is chosen
up front) and the dependencies the profile starts (the classifier) at once;
then the proxies; the target service (it needs the proxied DSN, the Sentry
DSN and the trace endpoint); Prometheus last, once the target answers, so no
scrape of a target that is still starting can make ``TargetDown`` pend.

Every process is recorded in ``stack.json`` the moment it is spawned (PID,
kernel start time, argv, cwd, environment), before its health gate, and
every scratch dir before it is created; every child carries the stack's spawn
marker in its environment (see :mod:`stack.process`). So ``down`` after a
``kill -9`` of the runner at any instant stops everything, by PID (only while
its start time matches) and by marker, and removes the PostgreSQL cluster.

Prometheus and Alertmanager start from empty storage every time: a TSDB or
notification log left by an earlier stack in the same state dir would make
the new one report the old target as down (``TargetDown``) or stay silent
about an alert it already notified (``repeat_interval``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import secrets
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

import httpx

from stack.alerting import AlertmanagerServer, AlertWebhook, PrometheusServer
from stack.apps import ServiceProcess, http_ok
from stack.bugsink import BugsinkServer
from stack.bugsink.sessions import stop_session
from stack.components import (
    ALERTMANAGER,
    BUGSINK,
    BY_NAME,
    LAB,
    POSTGRES,
    PROMETHEUS,
    PROXIES,
    TOXIPROXY,
    TRACES,
    WEBHOOK,
    Component,
    components,
    ordered,
    scrape_targets,
)
from stack.consoles import Links, write_consoles
from stack.exceptions import ComponentFailed, ProfileRejected, StackError
from stack.ports import LOOPBACK, free_port
from stack.postgres import PostgresCluster
from stack.process import (
    ManagedProcess,
    SpawnContext,
    pid_alive,
    process_start_time,
    spawn_context,
    stop_marked,
    stop_pid,
)
from stack.profile import TARGET_COMPONENT, TargetProfile, default_profile, fill, settings_env
from stack.respawn import apply_settings, respawn, wait_scraped
from stack.state import (
    ComponentState,
    Endpoints,
    ProfileRecord,
    StackState,
    read_state,
    write_state,
)
from stack.toxiproxy import pick_server
from stack.tracestore import TraceStoreProcess

COMPONENTS = (*(component.name for component in LAB), TARGET_COMPONENT)
"""The lab's own components; a profile adds the dependencies it starts (``classifier``...)."""
DEFAULT_STATE_DIR = Path(".chaoslab")
STEP_TIMEOUT_S = 600.0  # a first-ever Bugsink venv build is the slowest step
EXTERNAL_TARGET_WAIT_S = 10.0

Progress = Callable[[str, ComponentState, float], None]


class _DependencyFailed(StackError):
    """A component was not started because one it needs failed (that one is reported)."""


class _Stoppable(Protocol):
    def stop(self) -> None: ...


class _Nothing:
    """The handle of a service the lab did not start: stopping it does nothing."""

    def stop(self) -> None:
        return None


def _address(url_or_dsn: str) -> str:
    """``host:port`` of a URL or DSN."""
    rest = url_or_dsn.split("://", 1)[-1]
    return rest.rsplit("@", 1)[-1].split("/", 1)[0]


def profile_digest(profile: TargetProfile) -> str:
    """What identifies a profile's content (a stack of another profile is not attached to)."""
    return hashlib.sha256(profile.model_dump_json().encode()).hexdigest()


def default_settings(profile: TargetProfile) -> dict[str, dict[str, str]]:
    """The environment of every component with settings, at the profile's defaults."""
    settings: dict[str, dict[str, str]] = {}
    if profile.settings:
        settings[TARGET_COMPONENT] = settings_env(profile.settings)
    for name, dep in profile.dependencies.items():
        if dep.settings:
            settings[profile.dependency_component(name)] = settings_env(dep.settings)
    return settings


@dataclass(frozen=True)
class Started:
    """A component that came up: its handle, where it answers and how long it took."""

    name: str
    handle: _Stoppable
    url: str
    seconds: float
    kind: str | None = None


def _http_ok(url: str) -> bool:
    return http_ok(url, timeout=2.0)


def component_healthy(name: str, record: ComponentState) -> bool:
    """Is a recorded component alive (its PID, unchanged) and answering?"""
    if record.kind == "external":
        return _http_ok(record.url + (record.health_path or "/"))
    if record.kind == "compose":  # a container: probed on its published port
        from stack.compose_stack import component_reachable  # it imports this module

        return component_reachable(record)
    if record.pid is None or not pid_alive(record.pid):
        return False
    if record.start_time is not None and process_start_time(record.pid) != record.start_time:
        return False
    lab = BY_NAME.get(name)
    path = record.health_path if lab is None else lab.health_path
    if path is None:
        return True
    return _http_ok(record.url + path)


class LocalStack:
    """Bring the local stack up and down; a context manager for tests and the runner."""

    def __init__(
        self,
        state_dir: Path = DEFAULT_STATE_DIR,
        profile: TargetProfile | None = None,
        settings: Mapping[str, Mapping[str, str]] | None = None,
        progress: Progress | None = None,
        detached: bool = False,
        seed: int | None = None,
        wait_for_target: bool = True,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.profile = profile or default_profile()
        #: False for ``up`` of a profile whose service the user starts afterwards
        #: (with the environment ``up`` prints): its url is not waited for.
        self.wait_for_target = wait_for_target
        self.settings = {
            name: dict(env)
            for name, env in (
                default_settings(self.profile) if settings is None else settings
            ).items()
        }
        self.progress = progress
        self.detached = detached
        self.seed = seed
        self._started: list[Started] = []
        self._respawned: dict[str, ManagedProcess] = {}
        self._lock = threading.Lock()
        self._marker = secrets.token_hex(16)
        self.state = StackState(state_dir=str(self.state_dir))
        self._table: tuple[Component, ...] = ()
        self._ports: dict[str, int] = {}
        self._available: dict[str, Future[None]] = {}

    # -- the public face (the Stack seam) ---------------------------------------------

    @property
    def endpoints(self) -> Endpoints:
        return self.state.endpoints

    @property
    def owned(self) -> bool:
        """True unless detached (``chaoslab up``): then :meth:`close` leaves it running."""
        return not self.detached

    def up(self) -> StackState:
        """Start every component (cleaning leftovers of a crashed run first)."""
        down(self.state_dir, quiet=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._marker = secrets.token_hex(16)
        self.state.spawn_marker = self._marker
        if not self.detached:
            self.state.owner_pid = os.getpid()
            self.state.owner_start_time = process_start_time(os.getpid())
        write_state(self.state)
        try:
            self._bring_up()
            # Prometheus is ready before its first scrape: a stack is up once the
            # target's metrics are really being collected (else the first seconds
            # of a run are invisible to every metric and alert).
            job = self.profile.job_name
            if self.wait_for_target and not wait_scraped(
                self.endpoints.prometheus_url, job, 0.0, timeout=30.0
            ):
                raise StackError(
                    f"Prometheus did not scrape the target (job {job!r}, "
                    f"{', '.join(self.profile.metrics)}) within 30 s of starting"
                )
        except BaseException:
            self.down()
            raise
        self.state.complete = True
        self._save()
        return self.state

    def down(self) -> None:
        """Stop everything this object started, newest first, then forget the state."""
        for process in self._respawned.values():
            with contextlib.suppress(Exception):
                process.stop()
        self._respawned.clear()
        for started in reversed(self._started):
            with contextlib.suppress(Exception):
                started.handle.stop()
        self._started.clear()
        down(self.state_dir, quiet=True)

    def close(self) -> None:
        """End a run's use of the stack: :meth:`down` when owned, else nothing."""
        if self.owned:
            self.down()

    def restart(self, component: str) -> None:
        """Start a killed service the profile made the lab start again, same port and env."""
        self._respawn(component, None)

    def apply_settings(self, settings: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Restart only the components whose settings differ; returns their names."""
        restarted = apply_settings(self.state, settings, self._respawn)
        self.settings = {name: dict(env) for name, env in settings.items()}
        return restarted

    def _respawn(self, name: str, settings: Mapping[str, str] | None) -> None:
        for started in self._started:
            if started.name == name and isinstance(started.handle, ServiceProcess):
                started.handle.stop()
        previous = self._respawned.pop(name, None)
        if previous is not None:
            previous.stop()
        self._respawned[name] = respawn(self.state, name, self._save_component, settings)

    def _save_component(self, name: str, record: ComponentState) -> None:
        with self._lock:
            self.state.components[name] = record
            write_state(self.state)

    def __enter__(self) -> LocalStack:
        self.up()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.down()

    # -- bring-up ---------------------------------------------------------------------

    def _dir(self, name: str) -> Path:
        path = self.state_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _save(self) -> None:
        with self._lock:
            write_state(self.state)

    def _record(self, component: Component, started: Started) -> None:
        """A component passed its health gate: complete its record (written at spawn)."""
        with self._lock:
            self._started.append(started)
            if component.endpoint is not None:
                setattr(self.state.endpoints, component.endpoint, started.url)
            spawned = self.state.components.get(started.name)
            update = {"url": started.url, "kind": started.kind, "ready": True}
            record = (
                ComponentState(url=started.url, kind=started.kind, ready=True)
                if spawned is None
                else spawned.model_copy(update=update)
            )
            self.state.components[started.name] = record
            write_state(self.state)
        if self.progress is not None:
            self.progress(started.name, record, started.seconds)

    def _scratch(self, path: Path) -> None:
        with self._lock:
            self.state.scratch_dirs.append(str(path))
            write_state(self.state)

    @contextlib.contextmanager
    def _spawning(self, component: Component, url: str) -> Iterator[None]:
        """Record ``component``'s process in ``stack.json`` the moment it is spawned."""

        def spawned(process: ManagedProcess, env: Mapping[str, str]) -> None:
            record = ComponentState(
                url=url,
                pid=process.pid,
                start_time=process.start_time,
                log=str(process.log_path),
                argv=[str(arg) for arg in process.argv],
                cwd=None if process.cwd is None else str(process.cwd),
                env=dict(env),
                settings=dict(process.settings or {}),
                user=process.user,
                stop_signal=int(process.stop_signal),
                health_path=component.health_path,
            )
            with self._lock:
                self.state.components[component.name] = record
                write_state(self.state)

        context = SpawnContext(marker=self._marker, on_spawn=spawned, on_scratch=self._scratch)
        with spawn_context(context):
            yield

    def _bring_up(self) -> None:
        """Start each component as soon as what it needs is up; independent ones in parallel.

        The order comes from each component's ``needs`` (:mod:`stack.components`).
        Ports are chosen up front, so most components only need an address,
        not a running peer: only the proxies wait for PostgreSQL, Toxiproxy
        and the dependencies the lab starts, the target waits for the proxies
        and Bugsink (its Sentry DSN, known once it is launched), and
        Prometheus for the target (its first scrape must find it up).
        """
        ep = self.state.endpoints
        ep.chaos_token = secrets.token_hex(16)
        table = ordered(components(self.profile))
        self._table = table
        self._ports = {c.name: free_port() for c in table if c.port_first}
        ep.traces_url = f"http://{LOOPBACK}:{self._ports[TRACES.name]}"
        ep.otlp_endpoint = ep.traces_url + "/v1/traces"
        ep.webhook_url = f"http://{LOOPBACK}:{self._ports[WEBHOOK.name]}"
        self._available = {c.name: Future[None]() for c in table}
        with ThreadPoolExecutor(max_workers=len(table)) as pool:
            futures = [pool.submit(self._step, component) for component in table]
            errors = [f.exception() for f in futures]
        real = [e for e in errors if e is not None and not isinstance(e, _DependencyFailed)]
        if real:
            raise real[0]

    def _step(self, component: Component) -> None:
        """Start ``component`` once what it needs is available; then it is available."""
        available = self._available[component.name]
        try:
            for need in component.needs:
                if self._available[need].exception(timeout=STEP_TIMEOUT_S) is not None:
                    raise _DependencyFailed
            start = STARTS.get(component.name, LocalStack._dependency)
            started = start(self, component)
            if started is not None:
                self._record(component, started)
        except BaseException as exc:
            if not available.done():
                available.set_exception(_DependencyFailed(f"{component.name}: {exc}"))
            raise
        if not available.done():
            available.set_result(None)

    def _proxies(self, component: Component) -> None:
        """One Toxiproxy proxy per dependency of the profile, named after it."""
        ep = self.endpoints
        for name, dep in self.profile.dependencies.items():
            if dep.lab_postgres:
                upstream = _address(ep.postgres_dsn)
                ep.database_dsns[name] = ep.postgres_dsn
            elif dep.command is not None:
                upstream = f"{LOOPBACK}:{self._ports[self.profile.dependency_component(name)]}"
            else:
                upstream = str(dep.upstream)
                if dep.dsn is not None:
                    ep.database_dsns[name] = dep.dsn
            self._create_proxy(name, upstream)

    def _values(self, port: int, log_dir: Path) -> dict[str, str]:
        """What the profile's placeholders stand for, for one component."""
        ep = self.endpoints
        values = {
            "python": sys.executable,
            "host": LOOPBACK,
            "port": str(port),
            "profile_dir": str(self.profile.folder),
            "log_dir": str(log_dir),
            "log_file": ep.target_log,
            "sentry_dsn": ep.sentry_dsn,
            "otlp_endpoint": ep.traces_url,
            "otlp_traces_endpoint": ep.otlp_endpoint,
            "chaos_token": ep.chaos_token,
            "seed": "" if self.seed is None else str(self.seed),
        }
        for name, dep in self.profile.dependencies.items():
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

    def _filled(self, env: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
        """The profile's environment filled in; a variable that comes out empty is not set."""
        filled = {key: fill(value, dict(values)) for key, value in env.items()}
        return {key: value for key, value in filled.items() if value != ""}

    def _launch(
        self, component: Component, handle: _Stoppable, url: str, start: Callable[[], object]
    ) -> Started:
        """Run ``start`` (spawn and health gate), recording the process at spawn."""
        began = time.monotonic()
        with self._spawning(component, url):
            start()
        return Started(component.name, handle, url, time.monotonic() - began)

    def _dependency(self, component: Component) -> Started:
        """A dependency the profile says the lab starts (before its proxy exists)."""
        profile = self.profile
        name = next(
            n for n in profile.dependencies if profile.dependency_component(n) == component.name
        )
        dep = profile.dependencies[name]
        port = self._ports[component.name]
        log_dir = self._dir(component.name)
        values = self._values(port, log_dir)
        process = ServiceProcess(
            component.name,
            [fill(arg, values) for arg in dep.command or []],
            log_dir,
            port,
            env=self._filled(dep.env, values),
            cwd=None if dep.cwd is None else profile.path(fill(dep.cwd, values)),
            ready_path=dep.health,
            settings=self.settings.get(component.name, {}),
        )
        try:
            started = self._launch(component, process, process.url, process.start)
        except ComponentFailed as exc:
            raise ProfileRejected(
                ("dependencies", name, "command"), f"dependency {name}'s command failed: {exc}"
            ) from exc
        self.endpoints.dependency_urls[name] = process.url
        return started

    def _postgres(self, component: Component) -> Started:
        cluster = PostgresCluster(log_dir=self._dir(component.name))
        return self._launch(component, cluster, cluster.dsn(), cluster.start)

    def _toxiproxy(self, component: Component) -> Started:
        log_path = self._dir(component.name) / "toxiproxy.log"
        server = pick_server(seed=self.seed, in_process=False, log_path=log_path)
        started = self._launch(component, server, server.api_url, server.start)
        return dataclasses.replace(started, kind=server.kind)

    def _traces(self, component: Component) -> Started:
        store = TraceStoreProcess(self._dir(component.name), port=self._ports[component.name])
        self.endpoints.otlp_endpoint = store.otlp_endpoint
        return self._launch(component, store, store.url, store.start)

    def _bugsink(self, component: Component) -> Started:
        """Bugsink; available to what needs it as soon as its DSN is known (the target)."""
        server = BugsinkServer(self._dir(component.name))

        def publish() -> None:
            ep = self.endpoints
            ep.bugsink_url = server.url
            ep.sentry_dsn = server.dsn
            ep.sentry_api_token = server.api_token
            ep.bugsink_login = (
                f"{server.provisioning.admin_email} / {server.provisioning.admin_password}"
            )
            ep.sentry_project_id = server.project_id
            self._available[component.name].set_result(None)

        return self._launch(
            component, server, server.url, lambda: server.start(on_launched=publish)
        )

    def _webhook(self, component: Component) -> Started:
        webhook = AlertWebhook(self._dir(component.name), port=self._ports[component.name])
        self.endpoints.notifications_file = str(webhook.out_path)
        return self._launch(component, webhook, webhook.url, webhook.start)

    def _create_proxy(self, name: str, upstream: str) -> str:
        listen = f"{LOOPBACK}:{free_port()}"
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        response = httpx.post(self.endpoints.toxiproxy_url + "/proxies", json=body, timeout=5)
        if response.status_code != httpx.codes.CREATED:
            raise ComponentFailed(
                "toxiproxy",
                f"could not create proxy {name!r}: {response.status_code} {response.text}",
                ["POST", self.endpoints.toxiproxy_url + "/proxies"],
                "",
            )
        listen = response.json()["listen"]
        with self._lock:
            self.endpoints.proxies[name] = listen
        self._save()
        return str(listen)

    def _alertmanager(self, component: Component) -> Started:
        webhook_receiver = self.endpoints.webhook_url + "/alerts"
        port = self._ports[component.name]
        server = AlertmanagerServer(self._dir(component.name), webhook_receiver, port)
        # A notification log left by an earlier stack would keep this one silent
        # about an alert that stack notified (same labels, repeat_interval 1h).
        shutil.rmtree(server.storage_path, ignore_errors=True)
        return self._launch(component, server, server.url, server.start)

    def _prometheus(self, component: Component) -> Started:
        profile = self.profile
        ep = self.endpoints
        alertmanager = f"{LOOPBACK}:{self._ports[ALERTMANAGER.name]}"
        prometheus_dir = self._dir(component.name)
        links = Links(f"http://{alertmanager}", ep.bugsink_url, ep.traces_url)
        consoles = write_consoles(prometheus_dir, profile, links)
        server = PrometheusServer(
            prometheus_dir,
            scrape_targets=scrape_targets(self._table, {TARGET_COMPONENT: _address(ep.target_url)}),
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
        started = self._launch(component, server, server.url, server.start)
        ep.dashboard_url = consoles.url(server.url)
        self.state.profile = ProfileRecord(
            name=profile.name,
            source=str(profile.source or ""),
            digest=profile_digest(profile),
            job=profile.job_name,
            rule_time_scale=str(profile.rule_scale()),
            rule_files=[str(path) for path in server.loaded_rule_files],
        )
        self._save()
        return started

    def _target(self, component: Component) -> Started:
        """The service under test: started from its command, or found at its url."""
        profile = self.profile
        ep = self.endpoints
        port = self._ports[component.name]
        log_dir = self._dir(component.name)
        ep.target_log = str(log_dir / "target.jsonl")
        values = self._values(port, log_dir)
        if profile.log_file is not None:
            ep.target_log = str(self.profile.path(fill(profile.log_file, values)))
            values["log_file"] = ep.target_log
        first_pg = next((n for n, d in profile.dependencies.items() if d.kind == "postgres"), None)
        if first_pg is not None:
            ep.target_dsn = values.get(f"dep.{first_pg}.dsn", "")
        if profile.url is not None:
            url = profile.url.rstrip("/")
            values["port"] = url.rsplit(":", 1)[-1] if url.count(":") == 2 else "80"
            ep.target_env = self._filled(profile.env, values)
            if not self.wait_for_target:
                return self._external_target(url, wait=False)
            started = self._external_target(url)
            self._check_metrics(started.url)
            return started
        ep.target_env = self._filled(profile.env, values)
        process = ServiceProcess(
            component.name,
            [fill(arg, values) for arg in profile.command or []],
            log_dir,
            port,
            env=ep.target_env,
            cwd=None if profile.cwd is None else profile.path(fill(profile.cwd, values)),
            ready_path=profile.health.ready,
            settings=self.settings.get(component.name, {}),
        )
        try:
            started = self._launch(component, process, process.url, process.start)
        except ComponentFailed as exc:
            raise ProfileRejected(("command",), f"the target's command failed: {exc}") from exc
        self._check_metrics(process.url)
        return started

    def _check_metrics(self, url: str) -> None:
        """Every metrics path answers Prometheus text before Prometheus scrapes it."""
        for index, path in enumerate(self.profile.metrics):
            try:
                response = httpx.get(url + path, timeout=5.0)
            except httpx.HTTPError as exc:
                raise ProfileRejected(("metrics", index), f"GET {url}{path}: {exc}") from exc
            if response.status_code != httpx.codes.OK:
                raise ProfileRejected(
                    ("metrics", index),
                    f"metrics path {path} answered {response.status_code}, not 200 "
                    f"(GET {url}{path})",
                )

    def _external_target(self, url: str, wait: bool = True) -> Started:
        """A service the user runs: the lab only checks that it answers its health path."""
        started = time.monotonic()
        health = url + self.profile.health.ready
        deadline = started + EXTERNAL_TARGET_WAIT_S
        while wait and not http_ok(health):
            if time.monotonic() > deadline:
                raise ProfileRejected(
                    ("url",),
                    f"url {url} does not answer: GET {health} gave no 2xx within "
                    f"{EXTERNAL_TARGET_WAIT_S:g} s (start your service first)",
                )
            time.sleep(0.25)
        self.endpoints.target_url = url
        with self._lock:
            self.state.components[TARGET_COMPONENT] = ComponentState(
                url=url, kind="external", health_path=self.profile.health.live_path
            )
        return Started(TARGET_COMPONENT, _Nothing(), url, time.monotonic() - started, "external")


Start = Callable[[LocalStack, Component], Started | None]
STARTS: Mapping[str, Start] = {
    POSTGRES.name: LocalStack._postgres,
    TOXIPROXY.name: LocalStack._toxiproxy,
    TRACES.name: LocalStack._traces,
    BUGSINK.name: LocalStack._bugsink,
    WEBHOOK.name: LocalStack._webhook,
    ALERTMANAGER.name: LocalStack._alertmanager,
    PROMETHEUS.name: LocalStack._prometheus,
    PROXIES: LocalStack._proxies,
    TARGET_COMPONENT: LocalStack._target,
}
"""How the local stack starts each component of :mod:`stack.components` (a dependency
the profile makes the lab start: :meth:`LocalStack._dependency`)."""


def down(state_dir: Path, quiet: bool = False) -> list[str]:
    """Stop whatever ``stack.json`` records (newest first) and delete scratch dirs.

    Idempotent, and safe after a crash: a PID is signalled only while it still
    has the kernel start time that was recorded, the session of a recorded
    process only while its leader is that process or gone, and anything else
    carrying the stack's spawn marker (helpers, children the dead runner had
    no time to record, their descendants) is stopped before the scratch dirs
    go. Returns the names stopped.
    """
    state = read_state(state_dir.resolve())
    if state is None:
        return []
    if state.stack == "compose":
        from stack.compose_stack import compose_down  # it imports this module

        return compose_down(state_dir, quiet=quiet)
    stopped: list[str] = []
    for name in reversed(list(state.components)):
        record = state.components[name]
        if record.pid is None or record.start_time is None:
            continue
        now = process_start_time(record.pid)
        if now == record.start_time and pid_alive(record.pid):
            sig = record.stop_signal or signal.SIGTERM
            stop_pid(record.pid, record.start_time, grace=10.0, sig=sig)
            stopped.append(name)
        if now is None or now == record.start_time:
            # Anything the component left in its own session (gunicorn workers...).
            stop_session(record.pid)
    if state.spawn_marker:
        stop_marked(state.spawn_marker)
    for scratch in state.scratch_dirs:
        shutil.rmtree(scratch, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (state_dir.resolve() / "stack.json").unlink()
    if not quiet:
        for name in stopped:
            print(f"stopped {name}")
    return stopped


def status(state_dir: Path) -> StackState | None:
    """The recorded state (None when nothing is up)."""
    return read_state(state_dir.resolve())


__all__ = ["COMPONENTS", "DEFAULT_STATE_DIR", "LocalStack", "StackError", "down", "status"]
