"""A Chaos Toolkit experiment as a scenario of the lab.

:func:`import_experiment` reads the experiment and maps it: the
steady-state hypothesis to expectations (:mod:`~scenarios.importers.probes`),
the method to a fault timeline and the rollbacks to the lab's undos
(:mod:`~scenarios.importers.timeline`, :mod:`~scenarios.importers.actions`).
Every place it cannot carry over is a problem, and all of them are raised
together as :class:`~scenarios.importers.exceptions.ExperimentRejected`.

Chaos Toolkit brings no load: the scenario runs the target profile's load
for ``lead_in`` seconds before the method's time 0, through the method, and
``tail`` seconds after it, the window in which the steady state must hold
again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from assertions.expectations import Expectation, Window
from scenarios.importers.actions import Context
from scenarios.importers.exceptions import Finding, ImporterError
from scenarios.importers.experiment import Configuration, Findings, Node, read_experiment
from scenarios.importers.probes import probe_expectation
from scenarios.importers.timeline import build_timeline
from scenarios.model import LoadSettings, Scenario, TargetRef
from scenarios.profiles import load_profile
from stack.profile import TARGET_COMPONENT, TargetProfile, default_profile

TOP_LEVEL = frozenset(
    {
        "version",
        "title",
        "description",
        "tags",
        "configuration",
        "secrets",
        "contributions",
        "extensions",
        "controls",
        "runtime",
        "steady-state-hypothesis",
        "method",
        "rollbacks",
    }
)
#: configuration keys that only tell Chaos Toolkit where the backends are
BACKEND_KEYS = ("toxiproxy_host", "toxiproxy_port", "toxiproxy_url", "prometheus_base_url")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class ImportOptions:
    name: str | None = None
    profile: Path | None = None
    profile_ref: str | None = None  # how the scenario names the profile (relative to it)
    lead_in: float = 15.0
    tail: float = 20.0
    users: int = 10


@dataclass(frozen=True)
class Imported:
    """The scenario, the experiment's digest and the notes worth reading."""

    scenario: Scenario
    source: Path
    sha256: str
    options: ImportOptions
    notes: list[Finding] = field(default_factory=list)


def slug(text: str, limit: int = 61) -> str:
    """Lowercase words joined by dashes, cut at a word's end to at most ``limit`` characters."""
    words = _SLUG.sub("-", text.lower()).strip("-")
    if len(words) <= limit:
        return words
    cut = words[: limit + 1].rsplit("-", 1)[0]
    return cut if cut else words[:limit]


def startable(profile: TargetProfile) -> list[str]:
    """Components the lab starts for ``profile`` (what a process fault may name)."""
    names = [
        profile.dependency_component(name)
        for name, dep in profile.dependencies.items()
        if dep.command is not None
    ]
    return [*names, TARGET_COMPONENT] if profile.command is not None else names


def import_experiment(path: Path, options: ImportOptions | None = None) -> Imported:
    """Map the experiment at ``path``; :class:`ExperimentRejected` lists every problem."""
    options = options or ImportOptions()
    root = read_experiment(path)
    findings = Findings(path)
    profile = default_profile() if options.profile is None else load_profile(options.profile)
    configuration = Configuration(root.child("configuration"), findings)
    ctx = Context(findings, configuration, sorted(profile.dependencies), startable(profile))
    for key in root.names():
        if key not in TOP_LEVEL:
            findings.reject(root.child(key), "not a key of a Chaos Toolkit experiment")
    _outside(root, findings)
    title = root.child("title").text()
    if not title:
        findings.reject(root.child("title"), "an experiment has a title")
    lookup = _activities(root)
    expectations = _hypothesis(root.child("steady-state-hypothesis"), ctx, lookup)
    if not root.has("method"):
        findings.reject(root.child("method"), "an experiment has a method")
    timeline = build_timeline(root.child("method"), root.child("rollbacks"), ctx, lookup)
    for key in root.child("configuration").names():
        if key not in configuration.used:
            findings.note(
                root.child("configuration").child(key),
                "not needed: the lab uses its own stack's endpoints"
                if key in BACKEND_KEYS
                else "not used by anything the lab imports",
            )
    findings.raise_if_any()
    last = timeline.last
    window = (
        Window()
        if last is None
        else Window(fault=last.fault.id, after_end=True, within=options.tail)
    )
    faults = [
        p.fault.model_copy(update={"at": p.fault.at + options.lead_in}) for p in timeline.faults
    ]
    try:
        scenario = Scenario(
            name=options.name or slug(title or path.stem) or "imported",
            title=title or path.stem,
            story=_story(root, path),
            tags=_tags(root),
            target=TargetRef(profile=options.profile_ref),
            load=LoadSettings(
                users=options.users,
                spawn_rate=options.users,
                duration=options.lead_in + timeline.length + options.tail,
            ),
            faults=sorted(faults, key=lambda f: f.at),
            expectations=[e.model_copy(update={"window": window}) for e in expectations],
        )
    except ValidationError as exc:
        raise ImporterError(f"the imported scenario does not validate (a bug): {exc}") from exc
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return Imported(scenario, path, digest, options, findings.notes)


def _outside(root: Node, findings: Findings) -> None:
    """Top-level parts that do not change what the scenario does, or that it cannot do."""
    for key in ("secrets", "contributions", "extensions"):
        if root.has(key):
            findings.note(root.child(key), "not carried over: nothing in the lab reads it")
    lists = (
        root.child("tags"),
        root.child("method"),
        root.child("rollbacks"),
        root.child("steady-state-hypothesis").child("probes"),
    )
    for node in lists:
        if node.value is not None and not isinstance(node.value, list):
            findings.reject(node, "a list, in Chaos Toolkit's format")
    if root.has("controls"):
        findings.reject(root.child("controls"), "controls run code the lab cannot")
    runtime = root.child("runtime")
    strategy = runtime.child("hypothesis").child("strategy")
    if strategy.value not in (None, "default"):
        findings.reject(
            strategy,
            f"hypothesis strategy {strategy.value!r}: the lab checks the steady state after "
            "the method (the default strategy)",
        )
    for key in runtime.names():
        if key != "hypothesis":
            findings.note(runtime.child(key), "not carried over: the lab always undoes every fault")


def _activities(root: Node) -> dict[str, Node]:
    """Every named activity, for ``ref`` (the first of a name wins, as in Chaos Toolkit)."""
    found: dict[str, Node] = {}
    sections = [
        root.child("steady-state-hypothesis").child("probes"),
        root.child("method"),
        root.child("rollbacks"),
    ]
    for section in sections:
        for activity in section.items():
            name = activity.child("name").value
            if isinstance(name, str) and name not in found and not activity.has("ref"):
                found[name] = activity
    return found


def _hypothesis(hypothesis: Node, ctx: Context, lookup: dict[str, Node]) -> list[Expectation]:
    probes = list(hypothesis.child("probes").items())
    if not probes:
        ctx.findings.reject(
            hypothesis,
            "the lab needs at least one expectation: give the steady-state hypothesis a probe",
        )
    for key in hypothesis.names():
        if key not in ("title", "probes"):
            ctx.findings.reject(hypothesis.child(key), "not a key of a steady-state hypothesis")
    expectations: list[Expectation] = []
    seen: set[str] = set()
    for probe in probes:
        ref = probe.child("ref").value
        if isinstance(ref, str):
            if ref not in lookup:
                ctx.findings.reject(probe.child("ref"), f"no activity is named {ref!r}")
                continue
            probe = Node(lookup[ref].value, probe.path)
        expectation = probe_expectation(probe, ctx)
        if expectation is None:
            continue
        ident, n = expectation.id, 1
        while ident in seen:
            n += 1
            ident = f"{expectation.id}-{n}"
        seen.add(ident)
        expectations.append(expectation.model_copy(update={"id": ident}))
    return expectations


def _story(root: Node, path: Path) -> str:
    description = root.child("description").text() or ""
    lead = f"Imported from the Chaos Toolkit experiment {path.name}."
    return f"{description.strip()}\n\n{lead}\n" if description.strip() else f"{lead}\n"


def _tags(root: Node) -> list[str]:
    value = root.child("tags").value
    words = [str(tag) for tag in value] if isinstance(value, list) else []
    tags = [slug(word, 41) for word in words if slug(word, 41)]
    return list(dict.fromkeys([*tags, "chaostoolkit"]))


__all__ = ["BACKEND_KEYS", "ImportOptions", "Imported", "import_experiment", "slug", "startable"]
