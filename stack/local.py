"""The local stack: every backend a real process on 127.0.0.1, under one state directory.

    with LocalStack(Path(".chaoslab")) as lab:
        httpx.get(lab.endpoints.target_url + "/readiness")

Start order follows the dependencies, with independent components started
in parallel: PostgreSQL, Toxiproxy, the trace store, Bugsink and the alert
webhook first; then the proxies, the classifier, Alertmanager and
Prometheus; the target service last (it needs the proxied DSN, the Sentry DSN
and the trace endpoint). Each component is health-gated, recorded in
``stack.json`` as soon as it is up, and stopped by PID on the way down.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Mapping
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
from stack.process import pid_alive, process_start_time, stop_pid
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
    """A component that came up: its handle, its record and how long it took."""

    name: str
    handle: _Stoppable
    record: ComponentState
    seconds: float


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
        self._lock = threading.Lock()
        self.state = StackState(state_dir=str(self.state_dir))

    # -- the public face --------------------------------------------------------------

    @property
    def endpoints(self) -> Endpoints:
        return self.state.endpoints

    def up(self) -> StackState:
        """Start every component (cleaning leftovers of a crashed run first)."""
        down(self.state_dir, quiet=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if not self.detached:
            self.state.owner_pid = os.getpid()
            self.state.owner_start_time = process_start_time(os.getpid())
        write_state(self.state)
        try:
            self._bring_up()
        except BaseException:
            self.down()
            raise
        self.state.complete = True
        write_state(self.state)
        return self.state

    def down(self) -> None:
        """Stop everything this object started, newest first, then forget the state."""
        for started in reversed(self._started):
            with contextlib.suppress(Exception):
                started.handle.stop()
        self._started.clear()
        down(self.state_dir, quiet=True)

    def restart(self, name: str) -> None:
        """Start a killed app process (``classifier`` or ``target``) again, same port and env."""
        for index, started in enumerate(self._started):
            if started.name != name:
                continue
            handle = started.handle
            if not isinstance(handle, apps.AppProcess):
                raise StackError(f"{name} cannot be restarted")
            handle.stop()
            seconds = handle.start()
            assert handle.process is not None
            record = started.record.model_copy(
                update={"pid": handle.process.pid, "start_time": handle.process.start_time}
            )
            with self._lock:
                self._started[index] = Started(name, handle, record, seconds)
                self.state.components[name] = record
            self._save()
            return
        raise StackError(f"{name} is not a component of this stack")

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
        with self._lock:
            self._started.append(started)
            self.state.components[started.name] = started.record
        self._save()
        if self.progress is not None:
            self.progress(started.name, started.record, started.seconds)

    def _bring_up(self) -> None:
        """Start each component as soon as what it needs is up; independent ones in parallel.

        Ports are chosen up front, so most components only need an address,
        not a running peer: only the proxies wait for PostgreSQL and Toxiproxy,
        and the target waits for the proxies and Bugsink (its Sentry DSN).
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
                step(lambda: self._prometheus(ports["target"], ports["alertmanager"])),
                step(lambda: self._target(ports["target"]), proxies, bugsink_launched),
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
        cluster.start()
        self.state.scratch_dirs.append(str(cluster.root))
        self.endpoints.postgres_dsn = cluster.dsn()
        assert cluster.process is not None
        record = ComponentState(
            url=cluster.dsn(),
            pid=cluster.process.pid,
            start_time=cluster.process.start_time,
            log=str(cluster.process.log_path),
        )
        return Started("postgres", cluster, record, time.monotonic() - started)

    def _toxiproxy(self) -> Started:
        server = pick_server(
            seed=self.seed, in_process=False, log_path=self._dir("toxiproxy") / "toxiproxy.log"
        )
        started = time.monotonic()
        server.start()
        self.endpoints.toxiproxy_url = server.api_url
        process = getattr(server, "process", None)
        record = ComponentState(
            url=server.api_url,
            pid=None if process is None else process.pid,
            start_time=None if process is None else process.start_time,
            log=None if process is None else str(process.log_path),
            kind=server.kind,
        )
        return Started("toxiproxy", server, record, time.monotonic() - started)

    def _traces(self, port: int) -> Started:
        store = TraceStoreProcess(self._dir("traces"), port=port)
        seconds = store.start()
        self.endpoints.traces_url = store.url
        self.endpoints.otlp_endpoint = store.otlp_endpoint
        assert store.process is not None
        record = ComponentState(
            url=store.url,
            pid=store.pid,
            start_time=store.process.start_time,
            log=str(store.log_path),
        )
        return Started("traces", store, record, seconds)

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
            timings = server.start(on_launched=publish)
        except BaseException as exc:
            if not launched.done():
                launched.set_exception(_DependencyFailed(f"bugsink: {exc}"))
            raise
        record = ComponentState(
            url=server.url,
            pid=server.pid,
            start_time=process_start_time(server.pid),
            log=str(server.log_path),
        )
        return Started("bugsink", server, record, timings.total_s)

    def _webhook(self, port: int) -> Started:
        webhook = AlertWebhook(self._dir("webhook"), port=port)
        seconds = webhook.start()
        self.endpoints.webhook_url = webhook.url
        self.endpoints.notifications_file = str(webhook.out_path)
        record = ComponentState(
            url=webhook.url,
            pid=webhook.pid,
            start_time=webhook.start_time,
            log=str(webhook.log_path),
        )
        return Started("webhook", webhook, record, seconds)

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
            **self.classifier_env,
        }
        process = apps.classifier(self._dir("classifier"), env, port)
        seconds = process.start()
        self.endpoints.classifier_url = process.url
        assert process.process is not None
        record = ComponentState(
            url=process.url,
            pid=process.process.pid,
            start_time=process.process.start_time,
            log=str(process.process.log_path),
        )
        return Started("classifier", process, record, seconds)

    def _alertmanager(self, port: int) -> Started:
        webhook_receiver = self.endpoints.webhook_url + "/alerts"
        server = AlertmanagerServer(self._dir("alertmanager"), webhook_receiver, port)
        seconds = server.start()
        self.endpoints.alertmanager_url = server.url
        record = ComponentState(
            url=server.url, pid=server.pid, start_time=server.start_time, log=str(server.log_path)
        )
        return Started("alertmanager", server, record, seconds)

    def _prometheus(self, target_port: int, alertmanager_port: int) -> Started:
        server = PrometheusServer(
            self._dir("prometheus"),
            scrape_targets={"target": f"{LOOPBACK}:{target_port}"},
            rule_files=(ALERT_RULES,),
            alertmanager=f"{LOOPBACK}:{alertmanager_port}",
        )
        seconds = server.start()
        self.endpoints.prometheus_url = server.url
        record = ComponentState(
            url=server.url, pid=server.pid, start_time=server.start_time, log=str(server.log_path)
        )
        return Started("prometheus", server, record, seconds)

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
            **self.target_env,
        }
        process = apps.target(self._dir("target"), env, port)
        seconds = process.start()
        ep.target_url = process.url
        assert process.process is not None
        record = ComponentState(
            url=process.url,
            pid=process.process.pid,
            start_time=process.process.start_time,
            log=str(process.process.log_path),
        )
        return Started("target", process, record, seconds)


def down(state_dir: Path, quiet: bool = False) -> list[str]:
    """Stop whatever ``stack.json`` records (newest first) and delete scratch dirs.

    Idempotent, and safe after a crash: a PID is signalled only while it still
    has the kernel start time that was recorded. Returns the names stopped.
    """
    state = read_state(state_dir.resolve())
    if state is None:
        return []
    stopped: list[str] = []
    for name in reversed(list(state.components)):
        record = state.components[name]
        if record.pid is None:
            continue
        if pid_alive(record.pid) and (
            record.start_time is None or process_start_time(record.pid) == record.start_time
        ):
            stop_pid(record.pid, record.start_time, grace=10.0)
            stopped.append(name)
        # Anything the component left in its own session (gunicorn workers...).
        stop_session(record.pid)
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
