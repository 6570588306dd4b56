"""Start an app component again from its record: same argv, cwd, port and environment.

One implementation serves the stack that spawned the process
(:class:`~stack.local.LocalStack`) and a run attached to a stack that
``chaoslab up`` left running (:class:`~stack.attached.AttachedStack`), which
knows the process only through ``stack.json``. The new process runs in its
own session, so it outlives whoever restarted it, carries the stack's spawn
marker, and is recorded the moment it is spawned.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

from stack.apps import http_ok, port_open
from stack.components import LAB_NAMES
from stack.exceptions import StackError
from stack.process import ManagedProcess, SpawnContext, spawn_context, stop_pid
from stack.profile import TARGET_COMPONENT
from stack.state import ComponentState, StackState

LAB_COMPONENTS = LAB_NAMES
"""What the lab itself runs; everything else in a stack came from its target profile."""

RESTART_TIMEOUT_S = 60.0
SCRAPE_WAIT_S = 10.0

Save = Callable[[str, ComponentState], None]
"""Persist one component's record (called at spawn and once it is healthy)."""
Restart = Callable[[str, Mapping[str, str]], None]


def restartable(state: StackState) -> list[str]:
    """Components the stack started from the profile (target and dependencies), as recorded."""
    return [
        name
        for name, record in state.components.items()
        if name not in LAB_COMPONENTS and record.kind != "external"
    ]


def changed_settings(
    state: StackState, settings: Mapping[str, Mapping[str, str]]
) -> dict[str, dict[str, str]]:
    """The components whose recorded settings differ from the wanted ones.

    A component missing from ``settings`` wants none; one named there that the
    stack does not run is an error (the stack runs another profile).
    """
    for name in settings:
        if name not in state.components:
            raise StackError(f"{name} is not a component of this stack")
    changed: dict[str, dict[str, str]] = {}
    for name in restartable(state):
        wanted = dict(settings.get(name, {}))
        if state.components[name].settings != wanted:
            changed[name] = wanted
    # Dependencies first: the target reads them at start-up.
    return dict(sorted(changed.items(), key=lambda item: item[0] == TARGET_COMPONENT))


def apply_settings(
    state: StackState, settings: Mapping[str, Mapping[str, str]], restart: Restart
) -> list[str]:
    """Restart (with ``restart``) only the components whose settings differ."""
    changed = changed_settings(state, settings)
    for name, wanted in changed.items():
        restart(name, wanted)
    return list(changed)


def respawn(
    state: StackState,
    name: str,
    save: Save,
    settings: Mapping[str, str] | None = None,
    timeout: float = RESTART_TIMEOUT_S,
) -> ManagedProcess:
    """Stop ``name``'s recorded process (if still the one recorded) and start it again.

    ``settings`` replace the recorded ones (None keeps them). Returns once the
    new process answers its health path and, for the target, once Prometheus
    has scraped it again. Raises :class:`StackError` if it cannot.
    """
    record = state.components.get(name)
    if record is None or name not in restartable(state):
        choices = ", ".join(restartable(state)) or "none"
        raise StackError(f"{name} cannot be restarted (only what the profile starts: {choices})")
    if not record.argv or record.env is None or record.log is None:
        raise StackError(
            f"{name} was recorded without its command line (an older chaoslab started it); "
            "run `chaoslab down` and `chaoslab up` again"
        )
    if record.pid is not None and record.start_time is not None:
        sig = record.stop_signal or signal.SIGTERM
        stop_pid(record.pid, record.start_time, grace=10.0, sig=sig)
    process = ManagedProcess(
        name,
        record.argv,
        Path(record.log),
        env=record.env,
        cwd=None if record.cwd is None else Path(record.cwd),
        user=record.user,
        stop_signal=record.stop_signal or signal.SIGTERM,
        settings=dict(record.settings if settings is None else settings),
    )

    def spawned(proc: ManagedProcess, env: Mapping[str, str]) -> None:
        update = {
            "pid": proc.pid,
            "start_time": proc.start_time,
            "env": dict(env),
            "settings": dict(proc.settings or {}),
            "ready": False,
        }
        state.components[name] = record.model_copy(update=update)
        save(name, state.components[name])

    restarted_at = time.time()
    with spawn_context(SpawnContext(marker=state.spawn_marker, on_spawn=spawned)):
        process.start()
    health = record.url + (record.health_path or "")
    try:
        process.wait_healthy(
            lambda: http_ok(health) if record.health_path else port_open(record.url), timeout
        )
        state.components[name] = state.components[name].model_copy(update={"ready": True})
        save(name, state.components[name])
    except BaseException:
        process.stop()
        raise
    if name == TARGET_COMPONENT and state.endpoints.prometheus_url and state.profile is not None:
        wait_scraped(state.endpoints.prometheus_url, state.profile.job, restarted_at)
    return process


def wait_scraped(
    prometheus_url: str, job: str, after: float, timeout: float = SCRAPE_WAIT_S
) -> bool:
    """Wait until Prometheus has scraped ``job`` successfully after ``after`` (epoch seconds).

    So a restart that made one scrape fail leaves no ``up == 0`` behind it
    (``TargetDown`` pending). Best effort: False when it did not happen in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _scraped_since(prometheus_url, job, after):
            return True
        time.sleep(0.25)
    return False


def _scraped_since(prometheus_url: str, job: str, after: float) -> bool:
    """Is the newest ``up`` sample of ``job`` a 1 taken after ``after``?"""
    query = f'timestamp(up{{job="{job}"}} == 1)'
    try:
        response = httpx.get(prometheus_url + "/api/v1/query", params={"query": query}, timeout=2.0)
        results = response.json()["data"]["result"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return bool(results) and all(float(r["value"][1]) > after for r in results)
