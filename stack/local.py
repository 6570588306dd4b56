"""The local stack: every backend a real process on 127.0.0.1, under one state directory.

    with LocalStack(Path(".chaoslab")) as lab:
        httpx.get(lab.endpoints.target_url + "/readiness")

Start order follows what each component needs (:mod:`stack.components`, one
row per component; :data:`stack.starts.STARTS` says how each starts here), with
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
import os
import secrets
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from stack.apps import ServiceProcess, http_ok
from stack.bugsink.sessions import stop_session
from stack.components import (
    BY_NAME,
    LAB,
    TRACES,
    WEBHOOK,
    Component,
    components,
    ordered,
)
from stack.exceptions import StackError
from stack.ports import LOOPBACK, free_port
from stack.process import (
    ManagedProcess,
    SpawnContext,
    pid_alive,
    process_start_time,
    spawn_context,
    stop_marked,
    stop_pid,
)
from stack.profile import TARGET_COMPONENT, TargetProfile, default_profile, settings_env
from stack.respawn import apply_settings, respawn, wait_scraped
from stack.starts import STARTS, Started, Stoppable, dependency
from stack.state import (
    ComponentState,
    Endpoints,
    StackState,
    profile_digest,
    read_state,
    write_state,
)

COMPONENTS = (*(component.name for component in LAB), TARGET_COMPONENT)
"""The lab's own components; a profile adds the dependencies it starts (``classifier``...)."""
DEFAULT_STATE_DIR = Path(".chaoslab")
STEP_TIMEOUT_S = 600.0  # a first-ever Bugsink venv build is the slowest step

Progress = Callable[[str, ComponentState, float], None]


class _DependencyFailed(StackError):
    """A component was not started because one it needs failed (that one is reported)."""


def default_settings(profile: TargetProfile) -> dict[str, dict[str, str]]:
    """The environment of every component with settings, at the profile's defaults."""
    settings: dict[str, dict[str, str]] = {}
    if profile.settings:
        settings[TARGET_COMPONENT] = settings_env(profile.settings)
    for name, dep in profile.dependencies.items():
        if dep.settings:
            settings[profile.dependency_component(name)] = settings_env(dep.settings)
    return settings


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
        #: Guards :attr:`state` and stack.json: the starts run in parallel threads.
        self.lock = threading.Lock()
        self._marker = secrets.token_hex(16)
        self.state = StackState(state_dir=str(self.state_dir))
        #: The components being brought up, and the ports chosen before any starts.
        self.table: tuple[Component, ...] = ()
        self.ports: dict[str, int] = {}
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
        self.save()
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
        with self.lock:
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

    def component_dir(self, name: str) -> Path:
        """The component's directory under the state dir (logs, data), created."""
        path = self.state_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save(self) -> None:
        """Write ``stack.json`` as the state is now."""
        with self.lock:
            write_state(self.state)

    def _record(self, component: Component, started: Started) -> None:
        """A component passed its health gate: complete its record (written at spawn)."""
        with self.lock:
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
        with self.lock:
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
            with self.lock:
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
        self.table = table
        self.ports = {c.name: free_port() for c in table if c.port_first}
        ep.traces_url = f"http://{LOOPBACK}:{self.ports[TRACES.name]}"
        ep.otlp_endpoint = ep.traces_url + "/v1/traces"
        ep.webhook_url = f"http://{LOOPBACK}:{self.ports[WEBHOOK.name]}"
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
            start = STARTS.get(component.name, dependency)
            started = start(self, component)
            if started is not None:
                self._record(component, started)
        except BaseException as exc:
            if not available.done():
                available.set_exception(_DependencyFailed(f"{component.name}: {exc}"))
            raise
        if not available.done():
            self.announce(component.name)

    def launch(
        self, component: Component, handle: Stoppable, url: str, start: Callable[[], object]
    ) -> Started:
        """Run ``start`` (spawn and health gate), recording the process at spawn."""
        began = time.monotonic()
        with self._spawning(component, url):
            start()
        return Started(component.name, handle, url, time.monotonic() - began)

    def announce(self, name: str) -> None:
        """What needs ``name`` may start now (before its health gate: Bugsink's DSN)."""
        self._available[name].set_result(None)


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


__all__ = [
    "COMPONENTS",
    "DEFAULT_STATE_DIR",
    "LocalStack",
    "StackError",
    "component_healthy",
    "default_settings",
    "down",
    "profile_digest",
    "status",
]
