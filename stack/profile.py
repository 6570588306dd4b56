"""The target profile: a service the lab did not write, described in one YAML file.

A profile says how to reach the service (a ``url`` it already answers on, or a
``command`` the lab starts, health-gates and stops), the environment the lab
hands it, its dependencies (each put behind a Toxiproxy proxy, so ``toxic``
and ``proxy_down`` faults work on it), where its metrics, health checks and
JSON log are, its own alert rule files and the time scale they run at, and
its load (its own Locust file, or a request mix declared here). The bundled
document service is just the default profile, ``stack/profiles/documents.yaml``.

Placeholders ``${name}`` in ``command``, ``cwd``, ``env``, ``log_file`` and
dependency commands are filled in by the lab (:data:`PLACEHOLDERS`); a name
that does not exist is a validation error. Files a profile names are relative
to the profile's folder.

An optional ``dashboard`` lists the panels of the responders' page the lab's
Prometheus serves (:mod:`stack.consoles`): PromQL in which ``$job`` stands for
the profile's Prometheus job (no ``${...}`` placeholders there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from stack.alerting.timescale import parse_promql

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
DEFAULT_PROFILE = PROFILES_DIR / "documents.yaml"
TARGET_COMPONENT = "target"
"""The component name of the service under test, whatever the profile (``status --json``)."""

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
JOB_VARIABLE = re.compile(r"\$job(?![A-Za-z0-9_])")
"""``$job`` in a dashboard query: the profile's Prometheus job label value."""
PanelUnit = Literal["s", "ms", "req/s", "ops/s", "ratio", "%", "count", "bytes"]
"""What a dashboard panel's value is measured in (how the page formats it)."""
PANEL_UNITS: tuple[str, ...] = get_args(PanelUnit)
_NAME = r"^[a-z][a-z0-9_-]{0,40}$"

PLACEHOLDERS: dict[str, str] = {
    "python": "the Python interpreter chaoslab runs on",
    "port": "a free port on 127.0.0.1 for the service (or the dependency) to listen on",
    "host": "the address to bind: 127.0.0.1",
    "profile_dir": "the folder of the profile file",
    "log_dir": "the component's own folder in the state dir",
    "log_file": "the JSON log file the lab reads log expectations from",
    "sentry_dsn": "the DSN of the lab's Bugsink project",
    "otlp_endpoint": "the base URL of the lab's OTLP/HTTP receiver",
    "otlp_traces_endpoint": "the same, with /v1/traces",
    "chaos_token": "the token of the fault-switch API (/admin/chaos)",
    "seed": "the stack's seed (empty when none was given)",
    "dep.NAME.host": "the proxied host of dependency NAME",
    "dep.NAME.port": "the proxied port of dependency NAME",
    "dep.NAME.address": "host:port of dependency NAME, through its proxy",
    "dep.NAME.url": "http://host:port of dependency NAME, through its proxy",
    "dep.NAME.dsn": "the DSN of PostgreSQL dependency NAME, through its proxy",
}
"""Every placeholder a profile may use, and what the lab puts there."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Setting(_Strict):
    """A knob a scenario may turn: written to the service's environment as ``env``."""

    env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    default: bool | int | float | str
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    def coerce(self, value: object) -> str:
        """``value`` as the environment string, checked against the default's type and bounds."""
        kind = type(self.default)
        if kind is bool:
            if not isinstance(value, bool):
                raise ValueError(f"must be true or false, not {value!r}")
            return "true" if value else "false"
        if kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"must be a number, not {value!r}")
            if kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(f"must be a whole number, not {value!r}")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"must be at least {self.minimum:g}, not {value!r}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"must be at most {self.maximum:g}, not {value!r}")
            return str(int(value) if kind is int else float(value))
        return str(value)


def settings_env(
    settings: Mapping[str, Setting], values: Mapping[str, object] | None = None
) -> dict[str, str]:
    """The environment for ``values`` over the defaults (raises ValueError naming the key)."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(settings))
    if unknown:
        known = ", ".join(sorted(settings)) or "none"
        raise ValueError(f"unknown setting {', '.join(unknown)} (settings: {known})")
    env: dict[str, str] = {}
    for name, setting in settings.items():
        try:
            env[setting.env] = setting.coerce(values.get(name, setting.default))
        except ValueError as exc:
            raise ValueError(f"setting {name}: {exc}") from None
    return env


class Health(_Strict):
    """Health paths: ``ready`` gates start-up; ``live`` is what ``status`` probes."""

    ready: str = Field(default="/healthz", pattern=r"^/")
    live: str | None = Field(default=None, pattern=r"^/")

    @property
    def live_path(self) -> str:
        return self.live or self.ready


class Dependency(_Strict):
    """A TCP upstream of the service, put behind a Toxiproxy proxy named after it.

    Where it is: ``upstream`` (``host:port`` of something already running), or
    ``command`` (the lab starts it, on ``${port}``), or, for ``kind:
    postgres`` with neither, the lab's own PostgreSQL cluster. A PostgreSQL
    upstream may give ``dsn`` (direct, not proxied) so ``db_lock`` and
    ``db_connection_hog`` faults work on it.
    """

    kind: Literal["postgres", "http", "tcp"] = "tcp"
    upstream: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]+:[0-9]{1,5}$")
    dsn: str | None = None
    command: list[str] | None = Field(default=None, min_length=1)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    health: str | None = Field(default=None, pattern=r"^/")
    component: str | None = Field(
        default=None, pattern=_NAME, description="its name in `chaoslab status` when started"
    )
    settings: dict[str, Setting] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_place(self) -> Dependency:
        if self.upstream is not None and self.command is not None:
            raise ValueError("give either upstream (already running) or command (lab starts it)")
        if self.upstream is None and self.command is None and self.kind != "postgres":
            raise ValueError(
                f"a {self.kind} dependency needs upstream (host:port) or command "
                "(only postgres may use the lab's own cluster)"
            )
        if self.dsn is not None and self.kind != "postgres":
            raise ValueError("dsn is for postgres dependencies")
        if self.settings and self.command is None:
            raise ValueError("settings need a command (the lab restarts it with new settings)")
        if self.health is not None and self.command is None:
            raise ValueError("health is checked on a dependency the lab starts (command)")
        return self

    @property
    def lab_postgres(self) -> bool:
        return self.kind == "postgres" and self.upstream is None and self.command is None

    @property
    def sessions_reachable(self) -> bool:
        """Can the lab open its own PostgreSQL sessions on it (db_lock, hog)?"""
        return self.lab_postgres or self.dsn is not None


class RuleFiles(_Strict):
    """The service's own alert rules, loaded by the lab's Prometheus at ``time_scale``."""

    files: list[str] = Field(min_length=1)
    time_scale: Annotated[str, BeforeValidator(lambda v: v if isinstance(v, str) else str(v))] = (
        Field(default="1", description="e.g. 1/30: [5m] runs as [10s]")
    )

    @field_validator("time_scale")
    @classmethod
    def _scale(cls, value: str) -> str:
        try:
            scale = Fraction(value.replace(" ", ""))
        except (ValueError, ZeroDivisionError):
            raise ValueError(
                f"time_scale {value!r} is not a number or fraction such as 1/30"
            ) from None
        if not 0 < scale <= 1:
            raise ValueError(f"time_scale {value!r} must be above 0 and at most 1")
        return value

    @property
    def scale(self) -> Fraction:
        return Fraction(self.time_scale.replace(" ", ""))


def job_value(job: str) -> str:
    """``job`` as the content of a double-quoted PromQL string (what ``$job`` becomes)."""
    return job.replace("\\", "\\\\").replace('"', '\\"')


class DashboardPanel(_Strict):
    """One panel of the responders' dashboard: a graph of ``query`` and its current value."""

    title: str = Field(min_length=1, max_length=80)
    query: str = Field(min_length=1, description='PromQL; $job is the profile\'s job: {job="$job"}')
    unit: PanelUnit | None = Field(
        default=None, description="how the value is shown: ratio as a percentage, s as a duration"
    )
    description: str = ""

    @field_validator("title", "query", "description")
    @classmethod
    def _no_placeholders(cls, value: str) -> str:
        found = _PLACEHOLDER.search(value)
        if found is not None:
            raise ValueError(
                f"${{{found.group(1)}}}: dashboard panels take no placeholders "
                '(a query may use $job for the profile\'s job, as in {job="$job"})'
            )
        return value

    @field_validator("query")
    @classmethod
    def _promql(cls, value: str) -> str:
        try:
            parse_promql(JOB_VARIABLE.sub("job", value))
        except ValueError as exc:
            raise ValueError(f"not PromQL: {exc}") from None
        return value

    def query_for(self, job: str) -> str:
        """The query with every ``$job`` replaced by ``job`` (escaped for a PromQL string)."""
        value = job_value(job)
        return JOB_VARIABLE.sub(lambda _: value, self.query)


class RequestSpec(_Strict):
    """One kind of request in a declared mix (``{var}`` in path and body from ``vars``)."""

    name: str | None = None
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    path: str = Field(pattern=r"^/")
    weight: int = Field(default=1, ge=1)
    json_body: dict[str, object] | list[object] | None = Field(default=None, alias="json")
    expect: list[int] = Field(default_factory=lambda: [200], min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Load(_Strict):
    """The service's load: its own Locust file, or a request mix."""

    locustfile: str | None = None
    user_classes: list[str] = Field(default_factory=list)
    requests: list[RequestSpec] = Field(default_factory=list)
    vars: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="integer ranges for {name} in request paths and bodies"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Load:
        if (self.locustfile is None) == (not self.requests):
            raise ValueError("give either locustfile or requests (a request mix), not both")
        if self.user_classes and self.locustfile is None:
            raise ValueError("user_classes pick classes of a locustfile")
        return self


class TargetProfile(_Strict):
    """A service under test (see the module doc)."""

    name: str = Field(pattern=_NAME)
    description: str = ""
    service: str = Field(description="its service name in traces (OTEL_SERVICE_NAME)")
    url: str | None = Field(default=None, pattern=r"^https?://(127\.0\.0\.1|localhost|\[::1\])")
    command: list[str] | None = Field(default=None, min_length=1)
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    health: Health = Field(default_factory=Health)
    metrics: list[Annotated[str, Field(pattern=r"^/")]] = Field(
        default_factory=lambda: ["/metrics"], min_length=1
    )
    job: str = Field(default="", description="Prometheus job label; the profile name if empty")
    log_file: str | None = None
    switches: bool = Field(
        default=False, description="it implements the fault-switch API (/admin/chaos)"
    )
    tags_run_id: bool = Field(
        default=True,
        description="it copies the X-Chaoslab-Run header to a Sentry tag run_id; "
        "when false, Sentry expectations match the run's events by time only",
    )
    dependencies: dict[str, Dependency] = Field(default_factory=dict)
    rules: RuleFiles | None = None
    settings: dict[str, Setting] = Field(default_factory=dict)
    load: Load
    dashboard: list[DashboardPanel] = Field(
        default_factory=list,
        description="panels of the responders' page (/consoles/chaoslab.html); "
        "none: scrape health and alerts only",
    )

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _coherent(self) -> TargetProfile:
        if (self.url is None) == (self.command is None):
            raise ValueError("give either url (a service you run) or command (the lab starts it)")
        if self.settings and self.command is None:
            raise ValueError("settings need a command (the lab restarts the service with them)")
        for name in self.dependencies:
            if not re.match(_NAME, name):
                raise ValueError(f"dependency name {name!r} must match {_NAME}")
        components = [d.component or n for n, d in self.dependencies.items() if d.command]
        taken = {"postgres", "toxiproxy", "traces", "bugsink", "webhook", "prometheus"}
        taken |= {"alertmanager", TARGET_COMPONENT}
        for component in components:
            if component in taken or components.count(component) > 1:
                raise ValueError(f"component name {component!r} is already taken")
        return self

    # -- where it came from -------------------------------------------------------------

    @property
    def source(self) -> Path | None:
        return self._source

    def bind(self, source: Path) -> TargetProfile:
        """Remember the file this profile was read from (relative paths start there)."""
        self._source = source.resolve()
        return self

    @property
    def folder(self) -> Path:
        return self._source.parent if self._source is not None else Path.cwd()

    def path(self, relative: str) -> Path:
        return (self.folder / relative).resolve()

    @property
    def job_name(self) -> str:
        return self.job or self.name

    @property
    def started_by_lab(self) -> bool:
        return self.command is not None

    def rule_paths(self) -> list[Path]:
        return [] if self.rules is None else [self.path(f) for f in self.rules.files]

    def rule_scale(self) -> Fraction:
        return Fraction(1) if self.rules is None else self.rules.scale

    def dependency_component(self, name: str) -> str:
        return self.dependencies[name].component or name

    def placeholders_used(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every ``${...}`` in the profile with the location of the value holding it."""
        found: list[tuple[tuple[str | int, ...], str]] = []

        def scan(loc: tuple[str | int, ...], text: str | None) -> None:
            if text is not None:
                found.extend((loc, m.group(1)) for m in _PLACEHOLDER.finditer(text))

        for index, arg in enumerate(self.command or []):
            scan(("command", index), arg)
        scan(("cwd",), self.cwd)
        scan(("log_file",), self.log_file)
        for key, value in self.env.items():
            scan(("env", key), value)
        for dep_name, dep in self.dependencies.items():
            for index, arg in enumerate(dep.command or []):
                scan(("dependencies", dep_name, "command", index), arg)
            scan(("dependencies", dep_name, "cwd"), dep.cwd)
            for key, value in dep.env.items():
                scan(("dependencies", dep_name, "env", key), value)
        return found

    def placeholder_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """``(location, message)`` for each placeholder the lab cannot fill in."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for loc, name in self.placeholders_used():
            parts = name.split(".")
            if loc[0] == "dependencies" and (name in TARGET_ONLY or parts[0] == "dep"):
                problems.append(
                    (
                        loc,
                        f"${{{name}}} is not available to a dependency: the lab starts "
                        "dependencies before the proxies, Bugsink and the target's log exist "
                        "(the target's own command and env can use it)",
                    )
                )
                continue
            if name in PLACEHOLDERS and not name.startswith("dep."):
                continue
            if len(parts) == 3 and parts[0] == "dep":
                dep = self.dependencies.get(parts[1])
                if dep is None:
                    known = ", ".join(sorted(self.dependencies)) or "none"
                    problems.append(
                        (
                            loc,
                            f"placeholder ${{{name}}} names unknown dependency {parts[1]!r} "
                            f"(dependencies: {known})",
                        )
                    )
                    continue
                if f"dep.NAME.{parts[2]}" in PLACEHOLDERS:
                    if parts[2] == "dsn" and dep.kind != "postgres":
                        problems.append((loc, f"${{{name}}}: only a postgres dependency has a dsn"))
                    continue
            known = ", ".join(f"${{{p}}}" for p in PLACEHOLDERS)
            problems.append((loc, f"unknown placeholder ${{{name}}} (known: {known})"))
        return problems


#: Placeholders only the target's command, cwd and env can use (see :meth:`placeholder_problems`).
TARGET_ONLY = frozenset({"log_file", "sentry_dsn"})


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with every ``${name}`` replaced (a name not in ``values`` raises KeyError)."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def read_profile(path: Path) -> TargetProfile:
    """A profile from a file already checked by ``chaoslab validate`` (no line numbers here)."""
    return TargetProfile.model_validate(yaml.safe_load(path.read_text())).bind(path)


def default_profile() -> TargetProfile:
    return read_profile(DEFAULT_PROFILE)


__all__ = [
    "DEFAULT_PROFILE",
    "JOB_VARIABLE",
    "PANEL_UNITS",
    "PLACEHOLDERS",
    "PROFILES_DIR",
    "TARGET_COMPONENT",
    "DashboardPanel",
    "Dependency",
    "Health",
    "Load",
    "PanelUnit",
    "RequestSpec",
    "RuleFiles",
    "Setting",
    "TargetProfile",
    "default_profile",
    "fill",
    "job_value",
    "read_profile",
    "settings_env",
]
