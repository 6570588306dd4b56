"""The compose stack: ``compose/compose.yml`` brought up with Docker Compose v2.

    stack = ComposeStack(Path(".chaoslab"))
    state = stack.up()            # writes stack.json with stack "compose"
    compose_down(Path(".chaoslab"))

``up`` finds Docker Compose (the ``docker compose`` plugin first, else a
standalone ``docker-compose`` that is v2: 1.x has neither ``up --wait`` nor
``ps --format json``) and checks that the engine answers (``docker info``);
then it starts Bugsink alone, provisions it with the local stack's script
(:data:`stack.bugsink.provisioning.PROVISION_SCRIPT`, run by ``docker compose
exec -T bugsink bugsink-manage shell``), starts everything else with the
project's DSN and a fresh chaos token in the environment compose.yml
interpolates, reads the published ports from ``docker compose ps --format
json`` and writes ``stack.json`` with the local stack's component names and
:class:`~stack.state.Endpoints` fields. Every component is recorded with kind
``compose`` and no PID: ``status`` probes its published port
(:func:`component_reachable`), a run attaches to it like to any detached
stack, and ``down`` (:func:`compose_down`) removes the containers and their
volumes, so the next ``up`` starts from empty storage as the local stack does.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stack.apps import http_ok
from stack.bugsink.provisioning import (
    _MARKER,
    ADMIN_EMAIL,
    PROJECT_NAME,
    PROVISION_SCRIPT,
    RETENTION_MAX_EVENTS,
    TEAM_NAME,
    Provisioning,
)
from stack.components import BUGSINK, TRACES, Service, components
from stack.compose_config import COMPOSE_DIR, proxy_listen, rule_mounts
from stack.exceptions import StackError
from stack.ports import LOOPBACK
from stack.process import run
from stack.profile import TargetProfile, default_profile
from stack.state import (
    ComponentState,
    Endpoints,
    ProfileRecord,
    StackState,
    profile_digest,
    read_state,
    write_state,
)

PROJECT = "chaoslab"
COMPOSE_FILE = COMPOSE_DIR / "compose.yml"
KIND = "compose"
UP_TIMEOUT_S = 900.0  # a first `up` pulls every image and builds the lab's
COMMAND_TIMEOUT_S = 120.0
DASHBOARD_PATH = "/d/chaoslab"
# compose.yml gives Grafana's admin ${GRAFANA_ADMIN_PASSWORD:-admin}.
GRAFANA_PASSWORD_VARIABLE = "GRAFANA_ADMIN_PASSWORD"  # noqa: S105 (a variable's name)
ROTATE_SCRIPT = '\nAuthToken.objects.filter(id=token.id).update(token=env["CHAOSLAB_API_TOKEN"])\n'
"""Appended to the provisioning script: the token gets a value this process chose (40 hex
characters, as :func:`stack.bugsink.provisioning.rotate_token` gives the local stack's)."""


TABLE = tuple(
    c for c in components(default_profile(), compose=True) if c.recorded and c.service is not None
)
"""The components compose.yml runs (it is written for the default target profile)."""
SERVICES: dict[str, Service] = {c.name: c.service for c in TABLE if c.service is not None}
"""Component (as in ``stack.json``) → compose service, container port and health path."""
BUGSINK_SERVICE = SERVICES[BUGSINK.name].service
BUGSINK_PORT = SERVICES[BUGSINK.name].port
OTLP_PORT = 4318


# -- docker compose ps ------------------------------------------------------------------


@dataclass(frozen=True)
class Publisher:
    """One published port of a container (``Publishers`` of ``docker compose ps``)."""

    url: str
    target_port: int
    published_port: int
    protocol: str


@dataclass(frozen=True)
class ContainerStatus:
    """One container as ``docker compose ps --format json`` reports it."""

    service: str
    state: str
    health: str
    publishers: tuple[Publisher, ...]

    def published(self, target_port: int) -> int | None:
        """The host port publishing ``target_port`` (IPv4 first), or None."""
        found = [
            p for p in self.publishers if p.target_port == target_port and p.published_port > 0
        ]
        found.sort(key=lambda p: ":" in p.url)  # "::" (IPv6) after 127.0.0.1 / 0.0.0.0
        return found[0].published_port if found else None


def parse_ps(text: str) -> list[ContainerStatus]:
    """Parse ``docker compose ps --format json``: a JSON array (Compose < 2.21) or one
    JSON object a line (2.21 and later)."""
    text = text.strip()
    if not text:
        return []
    try:
        if text.startswith("["):
            raw = json.loads(text)
        else:
            raw = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise StackError(f"`docker compose ps --format json` printed no JSON: {exc}") from exc
    containers: list[ContainerStatus] = []
    for item in raw:
        if not isinstance(item, dict):
            raise StackError(f"`docker compose ps --format json`: not an object: {item!r}")
        publishers = tuple(
            Publisher(
                url=str(p.get("URL") or ""),
                target_port=int(p.get("TargetPort") or 0),
                published_port=int(p.get("PublishedPort") or 0),
                protocol=str(p.get("Protocol") or "tcp"),
            )
            for p in item.get("Publishers") or []
        )
        containers.append(
            ContainerStatus(
                service=str(item.get("Service", "")),
                state=str(item.get("State", "")),
                health=str(item.get("Health", "")),
                publishers=publishers,
            )
        )
    return containers


# -- finding Docker Compose -------------------------------------------------------------


def _run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = COMMAND_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    try:
        result: subprocess.CompletedProcess[str] = run(
            list(argv),
            env=None if env is None else dict(env),
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"`{_shown(argv)}` timed out after {timeout:.0f} s") from exc
    except OSError as exc:
        raise StackError(f"`{_shown(argv)}` could not run: {exc}") from exc
    return result


def _shown(argv: Sequence[str]) -> str:
    """A command line for a message (the provisioning script is long: only its name)."""
    return " ".join("<script>" if "\n" in arg else arg for arg in argv)


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit code {result.returncode}"


def find_compose() -> list[str]:
    """The Docker Compose v2 command (``docker compose`` or ``docker-compose``), engine checked.

    Raises :class:`StackError` naming what is missing: Compose itself, Compose v2,
    the ``docker`` CLI, or a reachable engine.
    """
    docker = shutil.which("docker")
    command: list[str] | None = None
    if docker is not None and _run(["docker", "compose", "version"]).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose") is not None:
        version = _run(["docker-compose", "version"])
        text = version.stdout + version.stderr
        if version.returncode != 0:
            raise StackError(f"`docker-compose version` failed: {_tail(version)}")
        if "version 1." in text or "version: 1." in text:
            raise StackError(
                "only docker-compose 1.x is installed; the compose stack needs Docker Compose "
                "v2 (`up --wait`, `ps --format json`): install the docker compose plugin"
            )
        command = ["docker-compose"]
    if command is None:
        raise StackError(
            "Docker Compose is not installed: neither `docker compose` (the v2 plugin) nor "
            "`docker-compose` works here; use `--stack local`"
        )
    if docker is None:
        raise StackError("the docker CLI is not installed (`docker info` checks the engine)")
    info = _run(["docker", "info"])
    if info.returncode != 0:
        raise StackError(
            f"the Docker engine is not reachable (`docker info` failed: {_tail(info)}); "
            "start it, or use `--stack local`"
        )
    return command


def compose_argv(command: Sequence[str], *args: str) -> list[str]:
    """``docker compose -p chaoslab -f compose/compose.yml ARGS``."""
    return [*command, "-p", PROJECT, "-f", str(COMPOSE_FILE), *args]


# -- the stack --------------------------------------------------------------------------


class ComposeStack:
    """Bring ``compose/compose.yml`` up for ``chaoslab up --stack compose`` (detached)."""

    def __init__(
        self,
        state_dir: Path,
        profile: TargetProfile | None = None,
        seed: int | None = None,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.profile = profile or default_profile()
        self.seed = seed
        self.state = StackState(stack=KIND, state_dir=str(self.state_dir))

    @property
    def endpoints(self) -> Endpoints:
        return self.state.endpoints

    def up(self) -> StackState:
        """Start the containers, provision Bugsink, record everything in ``stack.json``."""
        command = find_compose()  # before anything is touched: nothing written if it fails
        from stack.local import down  # stack.local imports this module for `down`

        down(self.state_dir, quiet=True)  # a crashed local or compose stack recorded here
        try:
            self._compose(command, "up", "-d", "--wait", BUGSINK_SERVICE, timeout=UP_TIMEOUT_S)
            containers = self._ps(command)
            bugsink_port = self._port(containers, "bugsink")
            token = secrets.token_hex(20)
            provisioning, password = self._provision(command, token)
            chaos_token = secrets.token_hex(16)
            env = {
                "CHAOSLAB_SENTRY_DSN": (
                    f"http://{provisioning.sentry_key}@{BUGSINK_SERVICE}:{BUGSINK_PORT}/"
                    f"{provisioning.project_id}"
                ),
                "CHAOSLAB_CHAOS_TOKEN": chaos_token,
            }
            if self.seed is not None:
                env["CHAOSLAB_SEED"] = str(self.seed)
            self._compose(command, "up", "-d", "--wait", env=env, timeout=UP_TIMEOUT_S)
            containers = self._ps(command)
            self._record(containers)
        except BaseException:
            with contextlib.suppress(StackError):
                self._compose(command, "down", "-v")
            raise
        ep = self.endpoints
        ep.chaos_token = chaos_token
        ep.sentry_dsn = provisioning.dsn(bugsink_port)
        ep.sentry_api_token = token
        ep.sentry_project_id = provisioning.project_id
        ep.bugsink_login = f"{provisioning.admin_email} / {password}"
        self.state.complete = True
        write_state(self.state)
        return self.state

    # -- steps ---------------------------------------------------------------------------

    def _compose(
        self,
        command: Sequence[str],
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> str:
        argv = compose_argv(command, *args)
        result = _run(argv, env=None if env is None else {**os.environ, **env}, timeout=timeout)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip().splitlines()[-20:]
            detail = "\n".join(f"    {line}" for line in output) or "    (no output)"
            raise StackError(
                f"`{_shown(argv)}` exited with code {result.returncode}:\n{detail}\n"
                f"(`docker compose -p {PROJECT} logs` shows the containers' output)"
            )
        return result.stdout

    def _ps(self, command: Sequence[str]) -> list[ContainerStatus]:
        containers = parse_ps(self._compose(command, "ps", "--format", "json"))
        for container in containers:
            if container.state != "running" or container.health not in ("", "healthy"):
                health = f", {container.health}" if container.health else ""
                raise StackError(
                    f"compose service {container.service} is {container.state}{health} "
                    "after `up --wait`"
                )
        return containers

    def _port(self, containers: Sequence[ContainerStatus], component: str) -> int:
        wanted = SERVICES[component]
        for container in containers:
            if container.service == wanted.service:
                port = container.published(wanted.port)
                if port is not None:
                    return port
        raise StackError(
            f"compose service {wanted.service} publishes no host port for {wanted.port} "
            "(`docker compose ps --format json`)"
        )

    def _provision(self, command: Sequence[str], token: str) -> tuple[Provisioning, str]:
        """Team, project, admin and API token, by the local stack's script, in the container."""
        password = secrets.token_urlsafe(18)
        env = {
            "CHAOSLAB_ADMIN_EMAIL": ADMIN_EMAIL,
            "CHAOSLAB_ADMIN_PASSWORD": password,
            "CHAOSLAB_TEAM": TEAM_NAME,
            "CHAOSLAB_PROJECT": PROJECT_NAME,
            "CHAOSLAB_RETENTION": str(RETENTION_MAX_EVENTS),
            "CHAOSLAB_API_TOKEN": token,
        }
        flags = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        out = self._compose(
            command,
            "exec",
            "-T",
            *flags,
            BUGSINK_SERVICE,
            "bugsink-manage",
            "shell",
            "--no-imports",
            "-c",
            PROVISION_SCRIPT + ROTATE_SCRIPT,
        )
        for line in out.splitlines():
            if line.startswith(_MARKER):
                created = json.loads(line.removeprefix(_MARKER))
                return Provisioning.model_validate(
                    {**created, "admin_password": password}
                ), password
        raise StackError("provisioning Bugsink in its container printed no result")

    def _record(self, containers: Sequence[ContainerStatus]) -> None:
        from stack.local import default_settings  # it imports this module

        profile = self.profile
        ep = self.endpoints
        settings = default_settings(profile)
        urls: dict[str, str] = {}
        for row in TABLE:
            component, service = row.name, SERVICES[row.name]
            port = self._port(containers, component)
            urls[component] = service.url.format(host=LOOPBACK, port=port)
            if row.endpoint is not None:
                setattr(ep, row.endpoint, urls[component])
            self.state.components[component] = ComponentState(
                url=urls[component],
                kind=KIND,
                ready=True,
                health_path=service.health_path,
                settings=settings.get(component, {}),
            )
        jaeger = SERVICES[TRACES.name].service
        otlp_port = next(
            (p for c in containers if c.service == jaeger for p in [c.published(OTLP_PORT)] if p),
            OTLP_PORT,
        )
        ep.otlp_endpoint = f"http://{LOOPBACK}:{otlp_port}/v1/traces"
        ep.dashboard_url = urls["grafana"] + DASHBOARD_PATH
        # compose.yml's admin, whose password `up` took from the environment like Compose did.
        ep.grafana_login = "admin / " + os.environ.get(GRAFANA_PASSWORD_VARIABLE, "admin")
        # Inside the compose network: the proxies' listen addresses are service names.
        for name, listen in proxy_listen(profile).items():
            ep.proxies[name] = "toxiproxy:" + listen.rsplit(":", 1)[1]
            dependency = profile.dependencies[name]
            if dependency.lab_postgres:
                ep.database_dsns[name] = urls["postgres"]
                if not ep.target_dsn:
                    ep.target_dsn = f"postgresql://postgres@{ep.proxies[name]}/chaoslab"
            component = profile.dependency_component(name)
            if component in urls:
                ep.dependency_urls[name] = urls[component]
        self.state.profile = ProfileRecord(
            name=profile.name,
            source=str(profile.source or ""),
            digest=profile_digest(profile),
            job=profile.job_name,
            rule_time_scale="1",
            rule_files=list(rule_mounts(profile).values()),
        )


def component_reachable(record: ComponentState) -> bool:
    """Does a compose component answer on its published port (HTTP health, or TCP)?"""
    if record.health_path is not None:
        return http_ok(record.url + record.health_path, timeout=2.0)
    address = record.url.split("://", 1)[-1].rsplit("@", 1)[-1].split("/", 1)[0]
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2.0):
            return True
    except (OSError, ValueError):
        return False


def compose_down(state_dir: Path, quiet: bool = False) -> list[str]:
    """``docker compose -p chaoslab down -v`` for a compose stack recorded in ``state_dir``.

    Returns the components the state file recorded; the state file goes only once
    the containers are gone (else :class:`StackError`, and ``down`` can be retried).
    """
    state = read_state(state_dir.resolve())
    if state is None:
        return []
    command = find_compose()
    argv = compose_argv(command, "down", "-v")
    result = _run(argv, timeout=UP_TIMEOUT_S)
    if result.returncode != 0:
        raise StackError(f"`{_shown(argv)}` failed: {_tail(result)}")
    with contextlib.suppress(FileNotFoundError):
        (state_dir.resolve() / "stack.json").unlink()
    if not quiet:
        print(f"removed the compose project {PROJECT} (containers and volumes)")
    return list(state.components)


__all__ = [
    "COMPOSE_FILE",
    "PROJECT",
    "SERVICES",
    "ComposeStack",
    "ContainerStatus",
    "Publisher",
    "component_reachable",
    "compose_argv",
    "compose_down",
    "find_compose",
    "parse_ps",
]
