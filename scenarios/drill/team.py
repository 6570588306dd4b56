"""What people do during a drill: status, declare, note (all); hint, reveal (facilitator)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime

from scenarios.drill.model import (
    Declaration,
    DrillState,
    Hint,
    Note,
)
from scenarios.drill.plan import (
    DIAGNOSES,
)
from scenarios.drill.screens import clock, links, phase_words, print_links, say, since
from scenarios.drill.store import DrillStore, now
from scenarios.exceptions import DrillInvalid
from scenarios.session import EXIT_OK
from stack.state import read_state


def cmd_status(args: argparse.Namespace) -> int:
    store = DrillStore.require(args.state_dir)
    state = store.read()
    stack = read_state(args.state_dir.resolve())
    elapsed = None if state.started_at is None else (now() - state.started_at).total_seconds()
    if state.ended_at is not None and state.started_at is not None:
        elapsed = (state.ended_at - state.started_at).total_seconds()
    alive = store.worker_alive(state)
    if args.json:
        public = state.model_dump(mode="json", exclude={"worker"})
        public.update(
            elapsed_s=None if elapsed is None else round(elapsed, 1),
            links={} if stack is None else links(stack),
            kinds=sorted(DIAGNOSES),
        )
        say(json.dumps(public, indent=2))
        return EXIT_OK
    say(f"drill {state.id}: {phase_words(state.phase, alive)}, elapsed {clock(elapsed)}")
    say(f"facilitator {state.facilitator}; hints given: {len(state.hints)}")
    if state.problem:
        say(f"problem: {state.problem}")
    if stack is not None:
        print_links(stack)
    say(f"components you can name: {', '.join(state.components)}")
    say(f"kinds you can name: {', '.join(sorted(DIAGNOSES))}")
    say(f"timeline ({len(state.declarations)} declarations):")
    entries: list[tuple[datetime, str]] = []
    for d in state.declarations:
        extra = ", ".join(
            f"{k} {v}"
            for k, v in (("signal", d.signal), ("component", d.component), ("kind", d.kind))
            if v
        )
        entries.append((d.at, f"{d.by}: {d.text}" + (f" ({extra})" if extra else "")))
    entries += [(h.at, f"hint {h.level}: {h.text}") for h in state.hints]
    entries += [(n.at, f"note {n.by + ': ' if n.by else ''}{n.text}") for n in state.notes]
    for at, line in sorted(entries, key=lambda entry: entry[0]):
        say(f"  {since(at, state.started_at)} {line}")
    return EXIT_OK


def cmd_declare(args: argparse.Namespace) -> int:
    store = DrillStore.require(args.state_dir)
    text, by = args.text.strip(), args.by.strip()
    if not text or not by:
        raise DrillInvalid("a declaration needs its text and --by NAME")
    state = store.read()
    if args.component is not None and args.component not in state.components:
        raise DrillInvalid(
            f"--component {args.component!r} is not a component of this stack "
            f"(name one of: {', '.join(state.components)})"
        )
    declaration = Declaration(
        at=now(), by=by, text=text, signal=args.signal, component=args.component, kind=args.kind
    )

    def add(state: DrillState) -> None:
        state.declarations.append(declaration)

    state = store.update(add)
    say(
        f"declared at {since(declaration.at, state.started_at)} by {by} "
        f"(declaration {len(state.declarations)}; `chaoslab drill status` lists them)"
    )
    return EXIT_OK


def cmd_note(args: argparse.Namespace) -> int:
    store = DrillStore.require(args.state_dir)
    text = args.text.strip()
    if not text:
        raise DrillInvalid("a note needs its text")
    note = Note(at=now(), by=(args.by or "").strip() or None, text=text)

    def add(state: DrillState) -> None:
        state.notes.append(note)

    state = store.update(add)
    say(f"noted at {since(note.at, state.started_at)}")
    return EXIT_OK


def cmd_hint(args: argparse.Namespace) -> int:
    store = DrillStore.require(args.state_dir)
    secret = store.read_secret()
    level = len(store.read().hints) + 1
    if level > 2:
        raise DrillInvalid("both hints were given (the component, then the kind)")
    places = sorted({f.component for f in secret.faults})
    kinds = sorted({f.diagnosis for f in secret.faults})
    if level == 1:
        text = f"look at {', '.join(places)}"
    else:
        text = "; ".join(f"it is {k}: {DIAGNOSES[k].description}" for k in kinds)
    hint = Hint(at=now(), level=level, text=text)

    def add(state: DrillState) -> None:
        state.hints.append(hint)

    store.update(add)
    say(f"hint {level} (recorded; hints lower the score): {text}")
    if not secret.seen:
        say("note: no fault has started yet")
    return EXIT_OK


def cmd_reveal(args: argparse.Namespace) -> int:
    store = DrillStore.require(args.state_dir)
    secret = store.read_secret()
    state = store.read()
    if args.json:
        say(json.dumps(secret.model_dump(mode="json"), indent=2))
        return EXIT_OK
    how = f"picked from {', '.join(secret.tags) or 'the catalog'}" if secret.picked else "named"
    say(f"scenario {secret.scenario} ({how}, seed {secret.seed}): {secret.title}")
    say(f"  file {secret.source}")
    lo, hi = secret.at_range
    say(f"  faults start at +{secret.offset_s:g} s (drawn from {lo:g}-{hi:g} s)")
    for fault in secret.faults:
        seen = next((s for s in secret.seen if s.id == fault.id), None)
        when = (
            f"started {since(seen.started_at, state.started_at)}"
            if seen and seen.started_at
            else f"due at {clock(fault.at)}"
        )
        say(
            f"  fault {fault.id}: {fault.kind} on {fault.component} "
            f"(kind to name: {fault.diagnosis}), {when}"
        )
    for v in secret.verdicts:
        ttd = "" if v.time_to_detect_s is None else f" in {v.time_to_detect_s:.1f} s"
        say(f"  signal {v.kind} {v.id}: {v.status}{ttd}")
    return EXIT_OK
