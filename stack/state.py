"""The state file of a running stack (``<state_dir>/stack.json``).

Written atomically the moment a component's process is spawned (before its
health gate) and again once it is up, so a runner killed at any instant
leaves a record that ``chaoslab down`` (or the next ``up``) can clean up
from: each component's PID with its kernel start time, so a PID that was
reused by an unrelated process is never signalled, and the stack's spawn
marker, an environment variable every child of the stack carries (see
:mod:`stack.process`), for a child whose PID had no time to be written.

A component's ``argv``, ``cwd``, ``env`` and ``settings`` are what it was
started with, so a process that did not start it (an attached run) can start
it again the same way. The file holds the chaos token, DSNs and the
environment of the process that ran ``up``: it is created mode 0600.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from stack.exceptions import StackStateError
from stack.profile import TargetProfile

STATE_FILE = "stack.json"


class ComponentState(BaseModel):
    """One running component as recorded."""

    url: str
    pid: int | None = None
    start_time: int | None = None
    log: str | None = None
    kind: str | None = None
    ready: bool = Field(default=False, description="its health gate passed")
    argv: list[str] = Field(default_factory=list)
    cwd: str | None = None
    env: dict[str, str] | None = Field(
        default=None, description="environment it was spawned with, settings excluded"
    )
    settings: dict[str, str] = Field(
        default_factory=dict,
        description="TARGET_*/CLASSIFIER_* settings applied on top of env (app components)",
    )
    user: str | None = None
    stop_signal: int | None = None
    health_path: str | None = None


class Endpoints(BaseModel):
    """Everything a runner, a test or a person needs to reach the stack."""

    postgres_dsn: str = ""
    target_dsn: str = ""
    toxiproxy_url: str = ""
    proxies: dict[str, str] = Field(default_factory=dict)
    target_url: str = ""
    target_log: str = ""
    chaos_token: str = ""
    prometheus_url: str = ""
    alertmanager_url: str = ""
    webhook_url: str = ""
    notifications_file: str = ""
    bugsink_url: str = ""
    sentry_dsn: str = ""
    sentry_api_token: str = ""
    sentry_project_id: int = 0
    traces_url: str = ""
    otlp_endpoint: str = ""
    bugsink_login: str = Field(
        default="", description="email / password of Bugsink's web UI (the provisioned admin)"
    )
    dashboard_url: str = Field(
        default="", description="the responders' page the lab's Prometheus serves (a console)"
    )
    grafana_url: str = Field(
        default="", description="Grafana's base URL when the stack runs one (compose)"
    )
    grafana_login: str = Field(
        default="", description="user / password that may post annotations to that Grafana"
    )
    database_dsns: dict[str, str] = Field(
        default_factory=dict,
        description="direct (unproxied) DSN of each PostgreSQL dependency the lab can open "
        "sessions on (db_lock, db_connection_hog), by dependency name",
    )
    target_env: dict[str, str] = Field(
        default_factory=dict,
        description="the environment the lab hands the target (its profile's env, filled in)",
    )
    dependency_urls: dict[str, str] = Field(
        default_factory=dict, description="direct URL of each dependency the lab started"
    )


class ProfileRecord(BaseModel):
    """Which target profile a stack runs, so a run can tell whether it may attach."""

    name: str
    source: str
    digest: str = Field(description="sha256 of the profile file when the stack started")
    job: str
    rule_time_scale: str = "1"
    rule_files: list[str] = Field(default_factory=list, description="as loaded (scaled copies)")


def profile_digest(profile: TargetProfile) -> str:
    """What identifies a profile's content (a stack of another profile is not attached to)."""
    return hashlib.sha256(profile.model_dump_json().encode()).hexdigest()


class StackState(BaseModel):
    """What ``stack.json`` holds."""

    stack: str = "local"
    state_dir: str
    started_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    owner_pid: int | None = Field(
        default=None, description="process whose exit ends the stack; None for a detached `up`"
    )
    owner_start_time: int | None = None
    complete: bool = False
    components: dict[str, ComponentState] = Field(default_factory=dict)
    profile: ProfileRecord | None = None
    endpoints: Endpoints = Field(default_factory=Endpoints)
    scratch_dirs: list[str] = Field(
        default_factory=list, description="directories outside state_dir to delete on down"
    )
    spawn_marker: str | None = Field(
        default=None, description="value of CHAOSLAB_STACK_ID in every child's environment"
    )


def state_path(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def write_state(state: StackState) -> None:
    """Replace the state file atomically (write a temp file, fsync, rename)."""
    directory = Path(state.state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".stack-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(state.model_dump_json(indent=2))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, state_path(directory))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on the state dir for a read-modify-write of the state file."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".stack.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_state(state_dir: Path) -> StackState | None:
    """The recorded state, or None when no stack was brought up here."""
    path = state_path(state_dir)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return StackState.model_validate_json(text)
    except ValueError as exc:
        raise StackStateError(
            f"{path} is not a chaoslab state file ({exc}); delete it to start over"
        ) from exc
