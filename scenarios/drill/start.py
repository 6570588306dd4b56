"""``chaoslab drill start``: check the stack, choose the scenario and offset, spawn the drill."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from scenarios.drill.finish import ABORT_WAIT_S, cleanup, close_drill, stop_worker
from scenarios.drill.model import (
    DrillState,
    Secret,
    Worker,
)
from scenarios.drill.plan import (
    candidates,
    choose,
    components,
    drill_scenario,
    fault_plans,
    parse_duration,
    parse_range,
    source_path,
)
from scenarios.drill.screens import PROGRESS_EVERY_S, print_links, say
from scenarios.drill.store import DrillStore, new_id, now
from scenarios.exceptions import DrillInvalid, ScenarioInvalid, ScenarioNotFound
from scenarios.loader import catalog, load, resolve
from scenarios.model import Scenario
from scenarios.session import EXIT_INFRA, EXIT_OK, draw_seed
from stack.attached import AttachedStack
from stack.local import profile_digest
from stack.process import process_start_time
from stack.state import StackState, read_state

START_WAIT_S = 300.0


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
    say(f"drill {store.id}: getting the stack ready (no alert may be firing when it starts)...")
    deadline = time.monotonic() + START_WAIT_S
    last_word = time.monotonic()
    while True:
        state = store.read()
        if state.phase == "running":
            break
        if state.phase in ("failed", "aborted") or not store.worker_alive(state):
            secret = store.read_secret()
            say(f"error: the drill could not start: {secret.error or 'its process died'}")
            say(f"       the facilitator's log: {store.worker_log}")
            cleanup(store, state_dir, say)
            close_drill(store, "ended")
            return EXIT_INFRA
        if time.monotonic() > deadline:
            say(f"error: the drill did not start within {START_WAIT_S:g} s; aborting it")
            stop_worker(store, ABORT_WAIT_S)
            cleanup(store, state_dir, say)
            close_drill(store, "ended")
            return EXIT_INFRA
        if time.monotonic() - last_word >= PROGRESS_EVERY_S:
            last_word = time.monotonic()
            say("   still waiting for the stack to be quiet...")
        time.sleep(0.5)
    stack = read_state(state_dir)
    started = f"{state.started_at:%H:%M:%S} UTC" if state.started_at else "now"
    say(f"drill {state.id} started at {started}, facilitator {state.facilitator}.")
    say("The load is on. Something will go wrong; nobody but the facilitator knows what or when.")
    say("")
    if stack is not None:
        print_links(stack)
    say("")
    say("Responders, from any terminal:")
    say("  chaoslab drill status")
    say('  chaoslab drill declare "what you see" --by NAME [--signal S] [--component C] [--kind K]')
    say('  chaoslab drill note "timeline entry" --by SCRIBE')
    say("Facilitator: chaoslab drill reveal --facilitator | hint --facilitator | end | abort")
    return EXIT_OK
