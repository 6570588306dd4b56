"""The ``method`` as a fault timeline; the ``rollbacks`` checked against the lab's undos.

Chaos Toolkit runs the method's activities one after the other, sleeping
``pauses.before`` ahead of an activity and ``pauses.after`` behind it; the
toxiproxy calls themselves take milliseconds. So each action happens at the
sum of the pauses before it, and a fault runs from the action that starts it
(``create_*_toxic``, ``disable_proxy``, ``pkill -STOP``...) to the one that
ends it (``delete_toxic``, ``enable_proxy``, ``reset``, ``pkill -CONT``...),
or to the end of the method when nothing in the method ends it: Chaos Toolkit
then checks the steady state again and runs the rollbacks.

A rollback must be one of the lab's own undos of a fault the method started
(``delete_toxic`` of its toxic, ``enable_proxy`` of its proxy, ``reset``,
``pkill -CONT``/``docker unpause`` of a paused process, ``docker start`` of a
killed one): those are accepted and noted, anything else is a problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scenarios.faults import Fault, ProcessFault, ProxyDownFault, ToxicFault
from scenarios.importers.actions import (
    Context,
    CreateToxic,
    DeleteToxic,
    Event,
    ResetAll,
    SetProxy,
    SignalProcess,
    ToxicSpec,
    action_events,
)
from scenarios.importers.experiment import Node

ACTIVITY_KEYS = frozenset(
    {"type", "name", "provider", "pauses", "background", "timeout", "controls", "ref"}
)
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")

Key = tuple[str, ...]


@dataclass
class _Open:
    key: Key
    at: float
    node: Node
    spec: ToxicSpec | None = None


@dataclass(frozen=True)
class Placed:
    """A fault of the timeline (offsets from the method's start) and the action that started it."""

    fault: Fault
    key: Key
    node: Node
    ended_by_method: bool


@dataclass
class Timeline:
    faults: list[Placed] = field(default_factory=list)
    length: float = 0.0

    @property
    def last(self) -> Placed | None:
        return max(self.faults, key=lambda p: p.fault.end, default=None)


class _Walk:
    def __init__(self, ctx: Context, lookup: dict[str, Node]) -> None:
        self.ctx = ctx
        self.lookup = lookup
        self.open: dict[Key, _Open] = {}
        self.timeline = Timeline()
        self.ids: set[str] = set()
        self.rolled_back: set[Key] = set()

    # -- activities ---------------------------------------------------------------------

    def activity(self, node: Node, what: str) -> Node | None:
        """The action at ``node`` (a ``ref`` followed), or None when it is not one."""
        ref = node.child("ref")
        if ref.value is not None:
            target = self.lookup.get(str(ref.value))
            if target is None:
                self.ctx.findings.reject(ref, f"no activity is named {ref.value!r}")
                return None
            node = Node(target.value, node.path)
        for key in node.names():
            if key not in ACTIVITY_KEYS:
                self.ctx.findings.reject(node.child(key), "not a key of an activity")
        if node.child("type").value != "action":
            self.ctx.findings.reject(
                node.child("type"),
                f"a {node.child('type').value!r} in the {what} has no place in a scenario "
                "(Chaos Toolkit checks no tolerance there; the lab's expectations come from "
                "the steady-state hypothesis)",
            )
            return None
        if node.child("background").value is True:
            self.ctx.findings.reject(
                node.child("background"),
                "a background action runs beside the next ones: the lab's timeline is the "
                "sequence of the pauses; run it in sequence",
            )
        if node.has("controls"):
            self.ctx.findings.reject(node.child("controls"), "controls run code the lab cannot")
        if node.has("timeout"):
            self.ctx.findings.note(node.child("timeout"), "not needed: the lab's calls are bounded")
        return node

    def pause(self, activity: Node, which: str) -> float:
        node = self.ctx.configuration.resolve(activity.child("pauses").child(which))
        value = node.value
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            self.ctx.findings.reject(node, "a pause is a number of seconds, 0 or more")
            return 0.0
        return float(value)

    # -- the method -----------------------------------------------------------------------

    def method(self, method: Node) -> Timeline:
        now = 0.0
        for entry in method.items():
            activity = self.activity(entry, "method")
            if activity is None:
                continue
            now += self.pause(activity, "before")
            for event in action_events(activity, self.ctx):
                self.apply(event, now, activity)
            now += self.pause(activity, "after")
        for key in list(self.open):
            self.close(key, now, None)
        self.timeline.length = now
        return self.timeline

    def apply(self, event: Event, now: float, node: Node) -> None:
        match event:
            case CreateToxic(spec):
                self.start(("toxic", spec.proxy, spec.name), now, node, spec)
            case DeleteToxic(proxy, name):
                self.end(("toxic", proxy, name), now, node, f"toxic {name!r} on {proxy!r}")
            case SetProxy(proxy, False):
                self.start(("proxy", proxy), now, node)
            case SetProxy(proxy, True):
                self.end(("proxy", proxy), now, node, f"the disabled proxy {proxy!r}")
            case ResetAll():
                ended = [k for k in self.open if k[0] in ("toxic", "proxy")]
                if not ended:
                    self.ctx.findings.note(node, "reset: no toxic or disabled proxy to undo here")
                for key in ended:
                    self.close(key, now, node)
            case SignalProcess(component, "pause" | "kill" as action):
                if ("process", component) in self.open:
                    self.ctx.findings.reject(node, f"{component!r} is already stopped or killed")
                    return
                self.start(("process", component, action), now, node)
            case SignalProcess(component, action):
                undone = "pause" if action == "resume" else "kill"
                what = f"{component!r} ({'paused' if undone == 'pause' else 'killed'})"
                self.end(("process", component, undone), now, node, what)

    def start(self, key: Key, now: float, node: Node, spec: ToxicSpec | None = None) -> None:
        if key in self.open:
            self.ctx.findings.reject(
                node, f"{_describe(key)} is already in place (since {self.open[key].node.path})"
            )
            return
        self.open[key] = _Open(key, now, node, spec)

    def end(self, key: Key, now: float, node: Node, what: str) -> None:
        if key not in self.open:
            self.ctx.findings.reject(
                node,
                f"undoes {what}, which the method has not put in place by then (the lab "
                "starts every run from a clean stack)",
            )
            return
        self.close(key, now, node)

    def close(self, key: Key, now: float, node: Node | None) -> None:
        opened = self.open.pop(key)
        duration = now - opened.at
        if duration <= 0:
            self.ctx.findings.reject(
                node or opened.node,
                f"{_describe(key)} would last 0 s: give the method a pause while it is in place",
            )
            return
        fault = self._fault(opened, duration)
        self.timeline.faults.append(Placed(fault, key, opened.node, node is not None))

    def _fault(self, opened: _Open, duration: float) -> Fault:
        key = opened.key
        if key[0] == "toxic" and opened.spec is not None:
            spec = opened.spec
            return ToxicFault(
                id=self._id(spec.name),
                at=opened.at,
                duration=duration,
                description=f"{spec.name} ({opened.node.path})",
                target=spec.proxy,
                toxic=spec.toxic,
                stream=spec.stream,
                toxicity=spec.toxicity,
                attributes=spec.attributes,
            )
        if key[0] == "proxy":
            return ProxyDownFault(
                id=self._id(f"{key[1]}-down"),
                at=opened.at,
                duration=duration,
                description=f"disable_proxy ({opened.node.path})",
                target=key[1],
            )
        return ProcessFault(
            id=self._id(f"{key[1]}-{key[2]}"),
            at=opened.at,
            duration=duration,
            description=f"{key[2]} {key[1]} ({opened.node.path})",
            target=key[1],
            action=key[2],
        )

    def _id(self, wanted: str) -> str:
        base = _ID_CHARS.sub("-", wanted).strip("-")[:56] or "fault"
        candidate, n = base, 1
        while candidate in self.ids:
            n += 1
            candidate = f"{base}-{n}"
        self.ids.add(candidate)
        return candidate

    # -- the rollbacks --------------------------------------------------------------------

    def rollbacks(self, rollbacks: Node) -> None:
        placed = self.timeline.faults
        for entry in rollbacks.items():
            activity = self.activity(entry, "rollbacks")
            if activity is None:
                continue
            if activity.has("pauses"):
                self.ctx.findings.note(
                    activity.child("pauses"),
                    "not kept: the lab undoes each fault at its end, without pauses",
                )
            for event in action_events(activity, self.ctx):
                self._rollback(event, activity, placed)
        for p in placed:
            if not p.ended_by_method and p.key not in self.rolled_back:
                self.ctx.findings.note(
                    p.node,
                    f"{_describe(p.key)} is never undone by the experiment: the lab undoes "
                    f"fault {p.fault.id!r} at the end of the method",
                )

    def _rollback(self, event: Event, node: Node, placed: list[Placed]) -> None:
        undoes: list[Placed]
        match event:
            case DeleteToxic(proxy, name):
                undoes = [p for p in placed if p.key == ("toxic", proxy, name)]
            case SetProxy(proxy, True):
                undoes = [p for p in placed if p.key == ("proxy", proxy)]
            case ResetAll():
                undoes = [p for p in placed if p.key[0] in ("toxic", "proxy")]
            case SignalProcess(component, "resume"):
                undoes = [p for p in placed if p.key == ("process", component, "pause")]
            case SignalProcess(component, "start"):
                undoes = [p for p in placed if p.key == ("process", component, "kill")]
            case _:
                self.ctx.findings.reject(
                    node,
                    "this rollback puts a fault in place; the lab's undos only revert the "
                    "method's faults",
                )
                return
        if not undoes:
            self.ctx.findings.reject(
                node,
                "this rollback matches no undo of the lab: it reverts nothing the method did",
            )
            return
        ids = ", ".join(repr(p.fault.id) for p in undoes)
        self.ctx.findings.note(node, f"consistent with the lab's own undo of fault {ids}")
        self.rolled_back.update(p.key for p in undoes)


def _describe(key: Key) -> str:
    if key[0] == "toxic":
        return f"toxic {key[2]!r} on proxy {key[1]!r}"
    if key[0] == "proxy":
        return f"proxy {key[1]!r} disabled"
    return f"{key[1]!r} {'paused' if key[2] == 'pause' else 'killed'}"


def build_timeline(
    method: Node, rollbacks: Node, ctx: Context, lookup: dict[str, Node]
) -> Timeline:
    """The method's faults (offsets from its start) with the rollbacks checked."""
    walk = _Walk(ctx, lookup)
    timeline = walk.method(method)
    walk.rollbacks(rollbacks)
    return timeline


__all__ = ["ACTIVITY_KEYS", "Placed", "Timeline", "build_timeline"]
