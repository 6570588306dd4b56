"""The local stack: every backend a real process on 127.0.0.1, under one state directory.

    with LocalStack(Path(".chaoslab")) as lab:
        httpx.get(lab.endpoints.target_url + "/readiness")

Start order follows the dependencies, with independent components started
in parallel: PostgreSQL, Toxiproxy, the trace store, Bugsink and the alert
webhook first; then the proxies, the classifier and Alertmanager; the target
service (it needs the proxied DSN, the Sentry DSN and the trace endpoint);
Prometheus last, once the target answers, so no scrape of a target that is
still starting can make ``TargetDown`` pend.

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
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import httpx

from stack import apps
from stack.alerting import AlertmanagerServer, AlertWebhook, PrometheusServer
from stack.bugsink import BugsinkServer
from stack.bugsink.sessions import stop_session
from stack.exceptions import ComponentFailed, StackError
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
from stack.respawn import apply_settings, respawn, wait_scraped
from stack.state import ComponentState, Endpoints, StackState, read_state, write_state
from stack.toxiproxy import pick_server
from stack.tracestore import TraceStoreProcess

COMPONENTS = (
    "postgres",
    "toxiproxy",
    "traces",
    "bugsink",
    "webhook",
    "classifier",
    "alertmanager",
    "prometheus",
    "target",
)
DEFAULT_STATE_DIR = Path(".chaoslab")
STEP_TIMEOUT_S = 600.0  # a first-ever Bugsink venv build is the slowest step
ALERT_RULES = Path(__file__).resolve().parent.parent / "compose" / "prometheus" / "alerts.yml"

Progress = Callable[[str, ComponentState, float], None]


class _DependencyFailed(StackError):
    """A component was not started because one it needs failed (that one is reported)."""


class _Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Started:
    """A component that came up: its handle, where it answers and how long it took."""

    name: str
    handle: _Stoppable
    url: str
    seconds: float
    kind: str | None = None


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).is_success
    except httpx.HTTPError:
        return False


def component_healthy(name: str, record: ComponentState) -> bool:
    """Is a recorded component alive (its PID, unchanged) and answering?"""
    if record.pid is None or not pid_alive(record.pid):
        return False
    if record.start_time is not None and process_start_time(record.pid) != record.start_time:
        return False
    probes = {
        "postgres": None,
        "toxiproxy": "/version",
        "traces": "/healthz",
        "bugsink": "/health/ready",
        "webhook": "/healthz",
        "alertmanager": "/-/ready",
        "prometheus": "/-/ready",
        "classifier": "/liveness",
        "target": "/liveness",
    }
    path = probes.get(name)
    if path is None:
        return True
    return _http_ok(record.url + path)


class LocalStack:
    """Bring the local stack up and down; a context manager for tests and the runner."""

    def __init__(
        self,
        state_dir: Path = DEFAULT_STATE_DIR,
        target_env: Mapping[str, str] | None = None,
        classifier_env: Mapping[str, str] | None = None,
        progress: Progress | None = None,
        detached: bool = False,
        seed: int | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.target_env = dict(target_env or {})
        self.classifier_env = dict(classifier_env or {})
        self.progress = progress
        self.detached = detached
        self.seed = seed
        self._started: list[Started] = []
        self._respawned: dict[str, ManagedProcess] = {}
        self._lock = threading.Lock()
        self._marker = secrets.token_hex(16)
        self.state = StackState(state_dir=str(self.state_dir))

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
            if not wait_scraped(self.endpoints.prometheus_url, "target", 0.0, timeout=30.0):
                raise StackError("Prometheus did not scrape the target within 30 s of starting")
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
        """Start a killed app process (``classifier`` or ``target``) again, same port and env."""
        self._respawn(component, None)

    def apply_target_settings(
        self, target_env: Mapping[str, str], classifier_env: Mapping[str, str]
    ) -> list[str]:
        """Restart only the app components whose settings differ; returns their names."""
        restarted = apply_settings(self.state, target_env, classifier_env, self._respawn)
        self.target_env = dict(target_env)
        self.classifier_env = dict(classifier_env)
        return restarted

    def _respawn(self, name: str, settings: Mapping[str, str] | None) -> None:
        for started in self._started:
            if started.name == name and isinstance(started.handle, apps.AppProcess):
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

    def _record(self, started: Started) -> None:
        """A component passed its health gate: complete its record (written at spawn)."""
        with self._lock:
            self._started.append(started)
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
    def _spawning(self, name: str, url: str, health_path: str | None = None) -> Iterator[None]:
        """Record ``name``'s process in ``stack.json`` the moment it is spawned."""

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
                health_path=health_path,
            )
            with self._lock:
                self.state.components[name] = record
                write_state(self.state)

        context = SpawnContext(marker=self._marker, on_spawn=spawned, on_scratch=self._scratch)
        with spawn_context(context):
            yield

    def _bring_up(self) -> None:
        """Start each component as soon as what it needs is up; independent ones in parallel.

        Ports are chosen up front, so most components only need an address,
        not a running peer: only the proxies wait for PostgreSQL and Toxiproxy,
        the target waits for the proxies and Bugsink (its Sentry DSN), and
        Prometheus for the target (its first scrape must find it up).
        """
        ep = self.state.endpoints
        ep.chaos_token = secrets.token_hex(16)
        ports = {
            name: free_port()
            for name in ("classifier", "target", "alertmanager", "traces", "webhook")
        }
        ep.traces_url = f"http://{LOOPBACK}:{ports['traces']}"
        ep.otlp_endpoint = ep.traces_url + "/v1/traces"
        ep.webhook_url = f"http://{LOOPBACK}:{ports['webhook']}"
        with ThreadPoolExecutor(max_workers=len(COMPONENTS) + 1) as pool:

            def step(start: Callable[[], Started], *needs: Future[Any]) -> Future[Any]:
                def run() -> Started:
                    for need in needs:
                        if need.exception(timeout=STEP_TIMEOUT_S) is not None:
                            raise _DependencyFailed
                    started = start()
                    self._record(started)
                    return started

                return pool.submit(run)

            postgres = step(self._postgres)
            toxiproxy = step(self._toxiproxy)
            bugsink_launched: Future[None] = Future()
            bugsink = step(lambda: self._bugsink(bugsink_launched))
            proxies = pool.submit(self._proxies_when_ready, postgres, toxiproxy, ports)
            futures: list[Future[Any]] = [
                postgres,
                toxiproxy,
                bugsink,
                proxies,
                step(lambda: self._traces(ports["traces"])),
                step(lambda: self._webhook(ports["webhook"])),
                step(lambda: self._classifier(ports["classifier"])),
                step(lambda: self._alertmanager(ports["alertmanager"])),
            ]
            target = step(lambda: self._target(ports["target"]), proxies, bugsink_launched)
            futures += [
                target,
                step(lambda: self._prometheus(ports["target"], ports["alertmanager"]), target),
            ]
            errors = [f.exception() for f in futures]
        real = [e for e in errors if e is not None and not isinstance(e, _DependencyFailed)]
        if real:
            raise real[0]

    def _proxies_when_ready(
        self, postgres: Future[Any], toxiproxy: Future[Any], ports: Mapping[str, int]
    ) -> None:
        if postgres.exception() is not None or toxiproxy.exception() is not None:
            raise _DependencyFailed
        pg_port = int(self.endpoints.postgres_dsn.rsplit(":", 1)[1].split("/", 1)[0])
        self._create_proxy("postgres", f"{LOOPBACK}:{pg_port}")
        self._create_proxy("downstream", f"{LOOPBACK}:{ports['classifier']}")

    def _postgres(self) -> Started:
        cluster = PostgresCluster(log_dir=self._dir("postgres"))
        started = time.monotonic()
        with self._spawning("postgres", cluster.dsn()):
            cluster.start()
        self.endpoints.postgres_dsn = cluster.dsn()
        return Started("postgres", cluster, cluster.dsn(), time.monotonic() - started)

    def _toxiproxy(self) -> Started:
        server = pick_server(
            seed=self.seed, in_process=False, log_path=self._dir("toxiproxy") / "toxiproxy.log"
        )
        started = time.monotonic()
        with self._spawning("toxiproxy", server.api_url, "/version"):
            server.start()
        self.endpoints.toxiproxy_url = server.api_url
        seconds = time.monotonic() - started
        return Started("toxiproxy", server, server.api_url, seconds, kind=server.kind)

    def _traces(self, port: int) -> Started:
        store = TraceStoreProcess(self._dir("traces"), port=port)
        with self._spawning("traces", store.url, "/healthz"):
            seconds = store.start()
        self.endpoints.traces_url = store.url
        self.endpoints.otlp_endpoint = store.otlp_endpoint
        return Started("traces", store, store.url, seconds)

    def _bugsink(self, launched: Future[None]) -> Started:
        """Bugsink; ``launched`` resolves as soon as its DSN is known (the target needs it)."""
        server = BugsinkServer(self._dir("bugsink"))

        def publish() -> None:
            ep = self.endpoints
            ep.bugsink_url = server.url
            ep.sentry_dsn = server.dsn
            ep.sentry_api_token = server.api_token
            ep.sentry_project_id = server.project_id
            launched.set_result(None)

        try:
            with self._spawning("bugsink", server.url, "/health/ready"):
                timings = server.start(on_launched=publish)
        except BaseException as exc:
            if not launched.done():
                launched.set_exception(_DependencyFailed(f"bugsink: {exc}"))
            raise
        return Started("bugsink", server, server.url, timings.total_s)

    def _webhook(self, port: int) -> Started:
        webhook = AlertWebhook(self._dir("webhook"), port=port)
        with self._spawning("webhook", webhook.url, "/healthz"):
            seconds = webhook.start()
        self.endpoints.webhook_url = webhook.url
        self.endpoints.notifications_file = str(webhook.out_path)
        return Started("webhook", webhook, webhook.url, seconds)

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

    def _classifier(self, port: int) -> Started:
        env = {
            "CLASSIFIER_OTLP_ENDPOINT": self.endpoints.otlp_endpoint,
            "CLASSIFIER_LOG_FILE": str(self._dir("classifier") / "classifier.jsonl"),
            "CLASSIFIER_ENVIRONMENT": "chaoslab",
            **({"CLASSIFIER_SEED": str(self.seed)} if self.seed is not None else {}),
        }
        process = apps.classifier(self._dir("classifier"), env, port, self.classifier_env)
        with self._spawning("classifier", process.url, process.ready_path):
            seconds = process.start()
        self.endpoints.classifier_url = process.url
        return Started("classifier", process, process.url, seconds)

    def _alertmanager(self, port: int) -> Started:
        webhook_receiver = self.endpoints.webhook_url + "/alerts"
        server = AlertmanagerServer(self._dir("alertmanager"), webhook_receiver, port)
        # A notification log left by an earlier stack would keep this one silent
        # about an alert that stack notified (same labels, repeat_interval 1h).
        shutil.rmtree(server.storage_path, ignore_errors=True)
        with self._spawning("alertmanager", server.url, "/-/ready"):
            seconds = server.start()
        self.endpoints.alertmanager_url = server.url
        return Started("alertmanager", server, server.url, seconds)

    def _prometheus(self, target_port: int, alertmanager_port: int) -> Started:
        server = PrometheusServer(
            self._dir("prometheus"),
            scrape_targets={"target": f"{LOOPBACK}:{target_port}"},
            rule_files=(ALERT_RULES,),
            alertmanager=f"{LOOPBACK}:{alertmanager_port}",
        )
        # An earlier stack's samples (its target's last `up == 0`, recorded while
        # it was stopped) would make TargetDown fire here for five minutes.
        shutil.rmtree(server.tsdb_path, ignore_errors=True)
        with self._spawning("prometheus", server.url, "/-/ready"):
            seconds = server.start()
        self.endpoints.prometheus_url = server.url
        return Started("prometheus", server, server.url, seconds)

    def _target(self, port: int) -> Started:
        ep = self.endpoints
        ep.target_dsn = ep.postgres_dsn.replace(
            ep.postgres_dsn.split("@", 1)[1].split("/", 1)[0], ep.proxies["postgres"]
        )
        ep.target_log = str(self._dir("target") / "target.jsonl")
        env = {
            "TARGET_DSN": ep.target_dsn,
            "TARGET_DOWNSTREAM_URL": f"http://{ep.proxies['downstream']}",
            "TARGET_OTLP_ENDPOINT": ep.otlp_endpoint,
            "TARGET_SENTRY_DSN": ep.sentry_dsn,
            "TARGET_CHAOS_TOKEN": ep.chaos_token,
            "TARGET_LOG_FILE": ep.target_log,
            "TARGET_ENVIRONMENT": "chaoslab",
            **({"TARGET_CHAOS_SEED": str(self.seed)} if self.seed is not None else {}),
        }
        process = apps.target(self._dir("target"), env, port, self.target_env)
        with self._spawning("target", process.url, process.ready_path):
            seconds = process.start()
        ep.target_url = process.url
        return Started("target", process, process.url, seconds)


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
