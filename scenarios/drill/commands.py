"""``chaoslab drill ...``: a facilitator, responders and a scribe on one running stack.

Every command reads and writes the drill's files under the state dir
(:mod:`scenarios.drill.store`), so each works from any terminal. What a
responder runs (``start``'s output, ``status``, ``declare``, ``note``) never
shows the scenario, the fault or when it starts; ``reveal --facilitator`` and
``hint --facilitator`` do, on purpose; ``end`` reveals and scores everything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from assertions.engine import Engine, FaultSpan, Verdict
from scenarios.drill.model import (
    SIGNALS,
    Declaration,
    DrillJournal,
    DrillState,
    Hint,
    Note,
    Secret,
    Worker,
)
from scenarios.drill.plan import (
    DEFAULT_AT,
    DEFAULT_MAX_DURATION,
    DIAGNOSES,
    candidates,
    choose,
    components,
    drill_scenario,
    fault_plans,
    parse_duration,
    parse_range,
    source_path,
)
from scenarios.drill.review import review_markdown
from scenarios.drill.score import build
from scenarios.drill.store import DrillStore, new_id, now
from scenarios.exceptions import DrillInvalid, ScenarioError, ScenarioInvalid, ScenarioNotFound
from scenarios.journal import Journal, write_atomic
from scenarios.loader import catalog, load, resolve
from scenarios.model import Scenario
from scenarios.panic import panic
from scenarios.runner import backends_for
from scenarios.session import EXIT_FAILED, EXIT_INFRA, EXIT_INVALID, EXIT_OK, draw_seed
from stack.attached import AttachedStack
from stack.local import profile_digest
from stack.process import process_start_time, signal_pid
from stack.state import StackState, read_state

START_WAIT_S = 300.0
END_WAIT_S = 180.0
ABORT_WAIT_S = 60.0
PROGRESS_EVERY_S = 10.0


def _say(text: str = "") -> None:
    print(text, flush=True)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else "+"
    whole = int(abs(seconds))
    return f"{sign}{whole // 60:02d}:{whole % 60:02d}"


def _since(at: datetime, start: datetime | None) -> str:
    return "-" if start is None else _clock((at - start).total_seconds())


# -- start ------------------------------------------------------------------------------


def _running_stack(state_dir: Path) -> StackState:
    attached = AttachedStack.attach(state_dir)
    if attached is None:
        raise DrillInvalid(
            f"no healthy stack is up in {state_dir}: a drill runs on one that "
            "`chaoslab up` started (`chaoslab status` says what is wrong)"
        )
    state = attached.state
    attached.close()
    return state


def _refuse_second(state_dir: Path) -> None:
    store = DrillStore.current(state_dir)
    if store is None:
        return
    state = store.read()
    started = "" if state.started_at is None else f" at {state.started_at:%H:%M:%S} UTC"
    raise DrillInvalid(
        f"drill {state.id} (facilitator {state.facilitator}{started}) is not over: "
        "`chaoslab drill end` scores it, `chaoslab drill abort` drops it"
    )


def _pick(tags: list[str], stack: StackState) -> tuple[list[str], dict[str, Scenario]]:
    """The catalog scenarios a ``--pick`` chooses among (DrillInvalid when none)."""
    profile = stack.profile.name if stack.profile is not None else "documents"
    loaded: dict[str, Scenario] = {}
    for name, path in catalog().items():
        try:
            loaded[name] = load(path)
        except ScenarioInvalid:
            continue
    names = candidates(loaded, tags, profile)
    if not names:
        known = sorted({t for s in loaded.values() for t in s.tags})
        wanted = f" tagged {', '.join(tags)}" if tags else ""
        raise DrillInvalid(
            f"no catalog scenario{wanted} targets profile {profile} "
            f"(tags in the catalog: {', '.join(known) or 'none'})"
        )
    return names, loaded


def _named(name: str, stack: StackState) -> tuple[Scenario, Path]:
    try:
        path = resolve(name)
        scenario = load(path)
    except ScenarioNotFound as exc:
        raise DrillInvalid(str(exc)) from exc
    record = stack.profile
    if record is not None and profile_digest(scenario.profile) != record.digest:
        raise DrillInvalid(
            f"scenario {scenario.name} targets profile {scenario.profile.name}, "
            f"but the running stack serves {record.name} ({record.source})"
        )
    if not scenario.faults:
        raise DrillInvalid(f"scenario {scenario.name} injects no fault: nothing to hunt")
    return scenario, path


def cmd_start(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    if bool(args.scenario) == bool(args.pick):
        raise DrillInvalid("name a scenario, or let the lab choose one with --pick [--from TAG]")
    if args.tags and not args.pick:
        raise DrillInvalid("--from chooses among tags for --pick; it needs --pick")
    if not args.facilitator.strip():
        raise DrillInvalid("--facilitator needs a name")
    at = parse_range(args.at)
    max_duration = parse_duration(args.max_duration, "--max-duration")
    stack = _running_stack(state_dir)
    _refuse_second(state_dir)
    seed = draw_seed() if args.seed is None else args.seed
    if args.pick:
        names, loaded = _pick(args.tags, stack)
        name, offset = choose(names, at, seed)
        scenario, path = loaded[name], catalog()[name]
    else:
        scenario, path = _named(args.scenario, stack)
        offset = choose([scenario.name], at, seed)[1]
    span = (scenario.last_fault_end or 0.0) - (scenario.first_fault_at or 0.0)
    if at[1] + span + 60.0 > max_duration:
        raise DrillInvalid(
            f"--at {args.at} leaves the faults too little of --max-duration {args.max_duration}"
        )
    drill_scenario(scenario, offset, max_duration)  # refuses a scenario a drill cannot judge
    drill_id = new_id()
    public = DrillState(
        id=drill_id,
        facilitator=args.facilitator.strip(),
        created_at=now(),
        components=components(scenario.profile),
    )
    secret = Secret(
        scenario=scenario.name,
        title=scenario.title,
        source=source_path(path),
        picked=bool(args.pick),
        tags=list(args.tags),
        seed=seed,
        at_range=at,
        offset_s=offset,
        max_duration_s=max_duration,
        faults=fault_plans(scenario, offset),
        run_dir=str(DrillStore(state_dir, drill_id).run_dir),
    )
    store = DrillStore.create(state_dir, public, secret)
    _spawn(store)
    return _await_start(store, state_dir)


def _spawn(store: DrillStore) -> None:
    with store.worker_log.open("ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scenarios.drill.worker",
                str(store.dir.parent.parent),
                store.id,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    worker = Worker(
        pid=proc.pid, start_time=process_start_time(proc.pid), log=str(store.worker_log)
    )

    def keep(state: DrillState) -> None:
        state.worker = worker

    store.update(keep)


def _await_start(store: DrillStore, state_dir: Path) -> int:
    _say(f"drill {store.id}: getting the stack ready (no alert may be firing when it starts)...")
    deadline = time.monotonic() + START_WAIT_S
    last_word = time.monotonic()
    while True:
        state = store.read()
        if state.phase == "running":
            break
        if state.phase in ("failed", "aborted") or not store.worker_alive(state):
            secret = store.read_secret()
            _say(f"error: the drill could not start: {secret.error or 'its process died'}")
            _say(f"       the facilitator's log: {store.worker_log}")
            _cleanup(store, state_dir, _say)
            _close(store, "ended")
            return EXIT_INFRA
        if time.monotonic() > deadline:
            _say(f"error: the drill did not start within {START_WAIT_S:g} s; aborting it")
            _stop_worker(store, ABORT_WAIT_S)
            _cleanup(store, state_dir, _say)
            _close(store, "ended")
            return EXIT_INFRA
        if time.monotonic() - last_word >= PROGRESS_EVERY_S:
            last_word = time.monotonic()
            _say("   still waiting for the stack to be quiet...")
        time.sleep(0.5)
    stack = read_state(state_dir)
    started = f"{state.started_at:%H:%M:%S} UTC" if state.started_at else "now"
    _say(f"drill {state.id} started at {started}, facilitator {state.facilitator}.")
    _say("The load is on. Something will go wrong; nobody but the facilitator knows what or when.")
    _say("")
    if stack is not None:
        _print_links(stack)
    _say("")
    _say("Responders, from any terminal:")
    _say("  chaoslab drill status")
    _say(
        '  chaoslab drill declare "what you see" --by NAME [--signal S] [--component C] [--kind K]'
    )
    _say('  chaoslab drill note "timeline entry" --by SCRIBE')
    _say("Facilitator: chaoslab drill reveal --facilitator | hint --facilitator | end | abort")
    return EXIT_OK


# -- status -----------------------------------------------------------------------------


def links(stack: StackState) -> dict[str, str]:
    """Every screen of the stack a responder may look at."""
    ep = stack.endpoints
    health = next(
        (c.health_path for n, c in stack.components.items() if n == "target" and c.health_path),
        "/healthz",
    )
    found = {
        "dashboard": ep.dashboard_url,
        "prometheus": f"{ep.prometheus_url}/graph" if ep.prometheus_url else "",
        "prometheus alerts": f"{ep.prometheus_url}/alerts" if ep.prometheus_url else "",
        # Debian's Alertmanager ships no web UI: its API lists the alerts it holds.
        "alertmanager": f"{ep.alertmanager_url}/api/v2/alerts" if ep.alertmanager_url else "",
        "bugsink": f"{ep.bugsink_url}/" if ep.bugsink_url else "",
        "bugsink login": ep.bugsink_login,
        "traces": f"{ep.traces_url}/search" if ep.traces_url else "",
        "target health": f"{ep.target_url}{health}" if ep.target_url else "",
        "target log": ep.target_log,
    }
    return {name: url for name, url in found.items() if url}


def _print_links(stack: StackState) -> None:
    _say("Screens:")
    for name, url in links(stack).items():
        _say(f"  {name:<18} {url}")


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
        _say(json.dumps(public, indent=2))
        return EXIT_OK
    _say(f"drill {state.id}: {_phase_words(state.phase, alive)}, elapsed {_clock(elapsed)}")
    _say(f"facilitator {state.facilitator}; hints given: {len(state.hints)}")
    if state.problem:
        _say(f"problem: {state.problem}")
    if stack is not None:
        _print_links(stack)
    _say(f"components you can name: {', '.join(state.components)}")
    _say(f"kinds you can name: {', '.join(sorted(DIAGNOSES))}")
    _say(f"timeline ({len(state.declarations)} declarations):")
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
        _say(f"  {_since(at, state.started_at)} {line}")
    return EXIT_OK


def _phase_words(phase: str, alive: bool) -> str:
    if phase in ("starting", "running", "ending") and not alive:
        return "its background process stopped — the facilitator should run `chaoslab drill end`"
    return {
        "starting": "starting",
        "running": "under way",
        "ending": "ending",
        "finished": "load over (the longest duration passed); `chaoslab drill end` scores it",
        "failed": "stopped by a lab failure; `chaoslab drill end` shows why",
        "aborted": "aborted (faults rolled back); `chaoslab drill end` closes it",
        "ended": "ended",
    }[phase]


# -- declare, note, hint, reveal -------------------------------------------------------


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
    _say(
        f"declared at {_since(declaration.at, state.started_at)} by {by} "
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
    _say(f"noted at {_since(note.at, state.started_at)}")
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
    _say(f"hint {level} (recorded; hints lower the score): {text}")
    if not secret.seen:
        _say("note: no fault has started yet")
    return EXIT_OK


def cmd_reveal(args: argparse.Namespace) -> int:
    store = DrillStore.require(args.state_dir)
    secret = store.read_secret()
    state = store.read()
    if args.json:
        _say(json.dumps(secret.model_dump(mode="json"), indent=2))
        return EXIT_OK
    how = f"picked from {', '.join(secret.tags) or 'the catalog'}" if secret.picked else "named"
    _say(f"scenario {secret.scenario} ({how}, seed {secret.seed}): {secret.title}")
    _say(f"  file {secret.source}")
    lo, hi = secret.at_range
    _say(f"  faults start at +{secret.offset_s:g} s (drawn from {lo:g}-{hi:g} s)")
    for fault in secret.faults:
        seen = next((s for s in secret.seen if s.id == fault.id), None)
        when = (
            f"started {_since(seen.started_at, state.started_at)}"
            if seen and seen.started_at
            else f"due at {_clock(fault.at)}"
        )
        _say(
            f"  fault {fault.id}: {fault.kind} on {fault.component} "
            f"(kind to name: {fault.diagnosis}), {when}"
        )
    for v in secret.verdicts:
        ttd = "" if v.time_to_detect_s is None else f" in {v.time_to_detect_s:.1f} s"
        _say(f"  signal {v.kind} {v.id}: {v.status}{ttd}")
    return EXIT_OK


# -- end, abort -------------------------------------------------------------------------


def _stop_worker(store: DrillStore, wait_s: float) -> bool:
    """SIGTERM the background process (it rolls back); True once it is gone."""
    state = store.read()
    if state.worker is not None and store.worker_alive(state):
        signal_pid(state.worker.pid, state.worker.start_time)
    return _wait_gone(store, wait_s, "waiting for the drill's process to roll back")


def _wait_gone(store: DrillStore, wait_s: float, what: str) -> bool:
    deadline = time.monotonic() + wait_s
    last_word = time.monotonic()
    while store.worker_alive():
        if time.monotonic() > deadline:
            return False
        if time.monotonic() - last_word >= PROGRESS_EVERY_S:
            last_word = time.monotonic()
            _say(f"   {what}...")
        time.sleep(0.25)
    return True


def _cleanup(store: DrillStore, state_dir: Path, say: Callable[[str], None]) -> list[str]:
    """Whatever the drill left (its process is gone): the emergency stop's rollback."""
    from scenarios.cli import restarter

    report = panic(state_dir, restarter(state_dir), say=say)
    for problem in report.problems:
        say(f"error: {problem}")
    return report.undone


def _close(store: DrillStore, phase: str) -> None:
    def done(state: DrillState) -> None:
        state.phase = "ended" if phase == "ended" else state.phase
        state.ended_at = state.ended_at or now()

    store.update(done)
    store.close()


def _run_journal(secret: Secret) -> Journal | None:
    path = Path(secret.run_dir) / "journal.json"
    try:
        return Journal.model_validate_json(path.read_text())
    except (OSError, ValueError):
        return None


def _judge_after_crash(store: DrillStore, secret: Secret, state_dir: Path) -> list[Verdict]:
    """The verdicts saved before the process died; one last look for the open ones."""
    stack = read_state(state_dir)
    if stack is None or secret.load_started_at is None:
        return list(secret.verdicts)
    scenario = drill_scenario(load(Path(secret.source)), secret.offset_s, secret.max_duration_s)
    tagged = (secret.run_id or "") if scenario.profile.tags_run_id else ""
    engine = Engine(
        scenario.expectations,
        backends_for(stack, tagged, secret.log_offset),
        secret.load_started_at,
    )
    spans = {
        s.id: FaultSpan(s.started_at, s.ended_at) for s in secret.seen if s.started_at is not None
    }
    looked = {v.id: v for v in engine.finish(now(), spans)}
    settled = {v.id: v for v in secret.verdicts if v.status != "pending"}
    return [settled.get(exp.id, looked[exp.id]) for exp in scenario.expectations]


def _write_out(journal: DrillJournal, out_dir: Path, run_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    if run_dir.exists():
        target = out_dir / "run"
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(run_dir), target)
        journal.run_dir = str(target.resolve())
    json_path, md_path = out_dir / "drill-journal.json", out_dir / "review.md"
    write_atomic(json_path, journal.model_dump_json(indent=2) + "\n")
    write_atomic(md_path, review_markdown(journal))
    _redraw_report(Path(journal.run_dir))
    return json_path, md_path


def _redraw_report(run_dir: Path) -> None:
    """The run's report again, now with the drill's declarations and score on it."""
    from scenarios.report import render_report  # matplotlib only when a report is drawn

    if not (run_dir / "journal.json").is_file():
        return
    try:
        render_report(run_dir)
    except (ScenarioError, OSError, ValueError) as exc:
        _say(f"could not draw the run report of {run_dir}: {exc}")


def cmd_end(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    store = DrillStore.require(state_dir)
    state = store.read()
    if state.phase in ("starting", "running") and store.worker_alive(state):

        def ask(state: DrillState) -> None:
            state.end_requested_at = now()
            state.phase = "ending"

        store.update(ask)
        _say("ending the drill: stopping the load, rolling the faults back, judging the signals")
        if not _wait_gone(store, END_WAIT_S, "still winding down"):
            _say(f"   it did not finish in {END_WAIT_S:g} s: stopping it")
            _stop_worker(store, ABORT_WAIT_S)
    elif store.worker_alive(state):
        _wait_gone(store, END_WAIT_S, "waiting for the drill's process to finish")
    state, secret = store.read(), store.read_secret()
    run = _run_journal(secret)
    recovered = run is None
    error: str | None = None
    if run is not None:
        verdicts, rolled_back = list(run.expectations), list(run.rolled_back)
        status = {"passed": "scored", "failed": "scored", "aborted": "aborted"}.get(
            run.status, "error"
        )
        error = run.error
        if run.rollback_errors:
            rolled_back += _cleanup(store, state_dir, _say)
    else:
        _say("the drill's process had died: judging what it saw, then cleaning up after it")
        verdicts = _judge_after_crash(store, secret, state_dir)
        rolled_back = _cleanup(store, state_dir, _say)
        status = "scored" if secret.load_started_at is not None else "error"
        error = secret.error or (None if status == "scored" else "the load never started")
    journal = build(
        state,
        secret,
        status=status,
        ended_at=state.end_requested_at or now(),
        verdicts=verdicts,
        rolled_back=rolled_back,
        recovered=recovered,
        error=error,
    )
    out_dir: Path = args.out or Path("out") / "drills" / state.id
    json_path, md_path = _write_out(journal, out_dir, Path(secret.run_dir))
    _close(store, "ended")
    _print_journal(journal)
    _say(f"\ndrill journal: {json_path}\nreview:        {md_path}")
    report = Path(journal.run_dir) / "report.html"
    if report.exists():
        _say(f"run report:    {report}")
    _say(f"replay:        {journal.replay()}")
    if journal.status != "scored":
        return EXIT_INFRA
    if any(a.status == "error" for a in journal.automated):
        return EXIT_INFRA
    return EXIT_FAILED if journal.uncaught else EXIT_OK


def cmd_abort(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    store = DrillStore.require(state_dir)
    _say(f"aborting drill {store.id}: stopping its load and rolling its faults back")
    if not _stop_worker(store, ABORT_WAIT_S):
        _say("error: the drill's process did not stop; `chaoslab panic` will")
    undone = _cleanup(store, state_dir, _say)
    state, secret = store.read(), store.read_secret()
    journal = build(
        state, secret, status="aborted", ended_at=now(), verdicts=[], rolled_back=undone
    )
    out_dir: Path = args.out or Path("out") / "drills" / state.id
    json_path, _md = _write_out(journal, out_dir, Path(secret.run_dir))
    _close(store, "ended")
    _say(f"aborted; it was {secret.scenario}. The stack is clean. Journal: {json_path}")
    return EXIT_OK


def _print_journal(journal: DrillJournal) -> None:
    start = journal.fault_started_at
    _say(f"\n== drill {journal.drill_id}: {journal.scenario} — {journal.title}")
    if journal.status != "scored":
        _say(f"   {journal.status.upper()}: {journal.error or 'no score'}")
    for fault in journal.faults:
        seen = next((s for s in journal.seen if s.id == fault.id), None)
        when = (
            f"{seen.started_at:%H:%M:%S}"
            if seen is not None and seen.started_at
            else "never started"
        )
        _say(
            f"   fault {fault.id}: {fault.kind} on {fault.component} ({fault.diagnosis}) at {when}"
        )
    _say("\ndeclarations (delay from the fault's start):")
    for d in journal.declarations:
        mark = "early" if d.before_fault else d.verdict
        _say(
            f"  {_clock(d.delay_s):>7} {mark.upper():<6} {d.by}: {d.text} "
            f"[component {'ok' if d.component_correct else 'no'}, "
            f"kind {'ok' if d.kind_correct else 'no'}]"
        )
    _say("\nautomated signals (time to detect from the fault's start):")
    for a in journal.automated:
        ttd = "-" if a.time_to_detect_s is None else f"{a.time_to_detect_s:.1f} s"
        note = " (must stay absent)" if a.absent else ""
        _say(f"  {a.status.upper():<7} {a.signal:<7} {a.id:<28} {ttd:>8}{note}")
    for line in journal.uncaught:
        _say(f"  NOT CAUGHT: {line}")
    if journal.status == "scored":
        _say(f"\nscore: {journal.score.summary}")
        for p in journal.score.pillars:
            auto = "-" if p.automated_s is None else f"{p.automated_s:.1f} s"
            human = "-" if p.human_s is None else f"{p.human_s:.1f} s ({p.human_by})"
            _say(f"  {p.signal:<7} automated {auto:>8}   team {human}")
        _say(f"  hints used: {journal.score.hints_used}")
    if start is None and journal.status == "scored":
        _say("  (no fault ever started: the drill ended before its offset)")


# -- the parser -------------------------------------------------------------------------

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "start": cmd_start,
    "status": cmd_status,
    "declare": cmd_declare,
    "note": cmd_note,
    "hint": cmd_hint,
    "reveal": cmd_reveal,
    "end": cmd_end,
    "abort": cmd_abort,
}


def run_command(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.drill_command](args)
    except DrillInvalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except ScenarioInvalid as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    drill = sub.add_parser(
        "drill", help="game-day drills: a hidden fault, a team hunting it, scored"
    )
    drill.set_defaults(func=run_command)
    cmds = drill.add_subparsers(dest="drill_command", required=True)
    start = cmds.add_parser(
        "start", help="start the load now and a hidden fault at a random moment"
    )
    start.add_argument("scenario", nargs="?", help="catalog name or scenario file")
    start.add_argument(
        "--pick", action="store_true", help="let the lab choose the scenario (seeded, secret)"
    )
    start.add_argument(
        "--from",
        dest="tags",
        nargs="+",
        default=[],
        metavar="TAG",
        help="with --pick: choose among catalog scenarios carrying any of these tags",
    )
    start.add_argument("--seed", type=int, default=None, help="seed of the pick and the offset")
    start.add_argument(
        "--at",
        default=DEFAULT_AT,
        help=f"when the fault may start after the load, a range (default {DEFAULT_AT})",
    )
    start.add_argument(
        "--max-duration",
        default=DEFAULT_MAX_DURATION,
        help=f"the drill's load stops by itself after this (default {DEFAULT_MAX_DURATION})",
    )
    start.add_argument("--facilitator", required=True, metavar="NAME")
    start.set_defaults(drill_command="start")
    status = cmds.add_parser("status", help="what responders may know: time, screens, claims")
    status.add_argument("--json", action="store_true")
    declare = cmds.add_parser("declare", help="a responder declares what they see (timed)")
    declare.add_argument("text")
    declare.add_argument("--by", required=True, metavar="NAME")
    declare.add_argument("--signal", choices=SIGNALS)
    declare.add_argument("--component", metavar="NAME", help="see `drill status` for the names")
    declare.add_argument("--kind", choices=sorted(DIAGNOSES))
    note = cmds.add_parser("note", help="the scribe's timeline")
    note.add_argument("text")
    note.add_argument("--by", metavar="NAME", default=None)
    for name, what in (
        ("hint", "give the team one more hint (the component, then the kind); recorded"),
        ("reveal", "the facilitator's secret: which scenario, when"),
    ):
        cmd = cmds.add_parser(name, help=what)
        cmd.add_argument(
            "--facilitator", action="store_true", required=True, help="yes, I am the facilitator"
        )
        if name == "reveal":
            cmd.add_argument("--json", action="store_true")
    for name, what in (
        ("end", "stop the load, roll back, judge the signals, write the drill journal"),
        ("abort", "stop the drill now and roll everything back, unscored"),
    ):
        cmd = cmds.add_parser(name, help=what)
        cmd.add_argument(
            "--out", type=Path, default=None, help="where to write it (default out/drills/ID)"
        )
