"""Read target profiles, and check a scenario against the profile it runs on.

Every problem comes with its file and line (:class:`ScenarioInvalid`, exit 2):
what the model refuses, placeholders the lab cannot fill, files the profile
names that are missing, rule files that ``promtool`` rejects at the
profile's time scale, and, for a scenario, faults and settings the profile
cannot support. Problems only a start can reveal (an unreachable ``url``, a
command that exits at once, a metrics path that does not answer) are raised
by the stack as :class:`stack.exceptions.ProfileRejected` and placed on
their line by :func:`rejected`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import yaml

from scenarios.exceptions import Problem, ScenarioInvalid
from scenarios.faults import (
    AppFault,
    DbConnectionHogFault,
    DbLockFault,
    ProcessFault,
    ProxyDownFault,
    ToxicFault,
)
from scenarios.model import Scenario
from scenarios.yamldoc import line_of, parse_document
from stack.alerting.prometheus import PrometheusConfig
from stack.alerting.timescale import scale_rule_file
from stack.exceptions import BinaryNotFound, ProfileRejected, RuleScaleError
from stack.profile import TARGET_COMPONENT, TargetProfile, settings_env

Loc = tuple[str | int, ...]


def load_profile(path: Path, *, check_rules: bool = True) -> TargetProfile:
    """A profile checked for everything that can be checked without starting it."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScenarioInvalid([Problem(path, None, f"cannot read: {exc.strerror}")]) from exc
    profile, root = parse_document(
        text, path, TargetProfile, "a target profile is a mapping (name, service, load...)"
    )
    profile.bind(path)
    problems = [
        Problem(path, line_of(root, loc), message)
        for loc, message in [*profile.placeholder_problems(), *_missing_files(profile)]
    ]
    if check_rules and not problems:
        problems += [Problem(path, line_of(root, loc), msg) for loc, msg in _rule_problems(profile)]
    if problems:
        raise ScenarioInvalid(problems)
    return profile


def is_profile(path: Path) -> bool:
    """Does ``path`` look like a target profile rather than a scenario (no ``expectations``)?"""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "expectations" not in data and "service" in data


def rejected(profile: TargetProfile, exc: ProfileRejected) -> ScenarioInvalid:
    """A start-up problem of ``profile`` as a validation error at its line."""
    source = profile.source or Path("<profile>")
    line = None
    if profile.source is not None:
        root = yaml.compose(profile.source.read_text(), Loader=yaml.SafeLoader)
        line = line_of(root, exc.loc)
    return ScenarioInvalid([Problem(source, line, exc.reason)])


def _missing_files(profile: TargetProfile) -> Iterator[tuple[Loc, str]]:
    if profile.load.locustfile is not None:
        path = profile.path(profile.load.locustfile)
        if not path.is_file():
            yield ("load", "locustfile"), f"locustfile {path} does not exist"
    for index, path in enumerate(profile.rule_paths()):
        if not path.is_file():
            yield ("rules", "files", index), f"rule file {path} does not exist"
    places: list[tuple[Loc, str | None, list[str] | None]] = [
        (("cwd",), profile.cwd, profile.command)
    ]
    places += [
        (("dependencies", name, "cwd"), dep.cwd, dep.command)
        for name, dep in profile.dependencies.items()
    ]
    for loc, cwd, command in places:
        if cwd is not None and "${" not in cwd and not profile.path(cwd).is_dir():
            yield loc, f"cwd {profile.path(cwd)} is not a folder"
        if command and "${" not in command[0]:
            program = command[0]
            base = profile.path(cwd) if cwd is not None and "${" not in cwd else profile.folder
            found = shutil.which(program) or (
                "/" in program and (base / program).is_file() and str(base / program)
            )
            if not found:
                yield (*loc[:-1], "command", 0), f"program {program!r} is not found on PATH"


def _rule_problems(profile: TargetProfile) -> Iterator[tuple[Loc, str]]:
    """Each rule file as the lab would load it: scaled, then ``promtool check rules``."""
    scale = profile.rule_scale()
    with tempfile.TemporaryDirectory(prefix="chaoslab-rules-") as scratch:
        for index, path in enumerate(profile.rule_paths()):
            try:
                scale_rule_file(
                    path,
                    Path(scratch) / f"{index}-{path.name}",
                    scale if scale != 1 else Fraction(1),
                    scrape_interval_s=PrometheusConfig.scrape_interval_s,
                )
            except (RuleScaleError, BinaryNotFound) as exc:
                yield ("rules", "files", index), str(exc)


def mismatches(scenario: Scenario, profile: TargetProfile) -> Iterator[tuple[Loc, str]]:
    """What ``scenario`` asks of ``profile`` that it cannot give (``("#id", x)``: by id)."""
    try:
        settings_env(profile.settings, scenario.target.values)
    except ValueError as exc:
        yield ("target",), f"target: {exc} of profile {profile.name!r}"
    for name, values in scenario.dependencies.items():
        dep = profile.dependencies.get(name)
        if dep is None:
            known = ", ".join(sorted(profile.dependencies)) or "none"
            yield (
                ("dependencies", name),
                f"profile {profile.name!r} has no dependency {name!r} (it has: {known})",
            )
            continue
        try:
            settings_env(dep.settings, values)
        except ValueError as exc:
            yield ("dependencies", name), f"dependency {name}: {exc}"
    user_class = scenario.load.user_class
    if (
        user_class is not None
        and profile.load.user_classes
        and (user_class not in profile.load.user_classes)
    ):
        yield (
            ("load", "user_class"),
            (
                f"user class {user_class!r} is not one of profile {profile.name!r}'s "
                f"({', '.join(profile.load.user_classes)})"
            ),
        )
    for fault in scenario.faults:
        reason = _unsupported(fault, profile)
        if reason is not None:
            yield ("#id", fault.id), f"fault {fault.id!r} ({fault.kind}): {reason}"


def _unsupported(fault: object, profile: TargetProfile) -> str | None:
    """Why ``profile`` cannot take ``fault``, or None."""
    deps = profile.dependencies
    known = ", ".join(sorted(deps)) or "none"
    if isinstance(fault, ToxicFault | ProxyDownFault):
        if fault.target not in deps:
            return f"profile {profile.name!r} has no dependency {fault.target!r} (it has: {known})"
    elif isinstance(fault, DbLockFault | DbConnectionHogFault):
        dep = deps.get(fault.target)
        if dep is None or dep.kind != "postgres":
            return f"profile {profile.name!r} has no PostgreSQL dependency {fault.target!r}"
        if not dep.sessions_reachable:
            return (
                f"the lab cannot open sessions on dependency {fault.target!r}: "
                "give it a dsn in the profile"
            )
    elif isinstance(fault, AppFault):
        if not profile.switches:
            return (
                f"profile {profile.name!r} does not implement the fault-switch API "
                "(/admin/chaos; set switches: true once it does)"
            )
    elif isinstance(fault, ProcessFault):
        startable = [
            profile.dependency_component(name) for name, dep in deps.items() if dep.command
        ]
        if profile.command is not None:
            startable.append(TARGET_COMPONENT)
        if fault.target not in startable:
            return (
                f"the lab did not start {fault.target!r}, so it cannot pause or kill it "
                f"(it starts: {', '.join(startable) or 'nothing'})"
            )
    return None


__all__ = ["is_profile", "load_profile", "mismatches", "rejected"]
