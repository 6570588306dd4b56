"""``chaoslab drill end`` and ``abort``: stop the drill, roll back, judge, write the journal."""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from assertions.engine import Engine, FaultSpan, Verdict
from scenarios.drill.model import (
    DrillJournal,
    DrillState,
    Secret,
)
from scenarios.drill.plan import (
    drill_scenario,
)
from scenarios.drill.review import review_markdown
from scenarios.drill.score import build
from scenarios.drill.screens import PROGRESS_EVERY_S, clock, say
from scenarios.drill.store import DrillStore, now
from scenarios.exceptions import ScenarioError
from scenarios.journal import Journal, write_atomic
from scenarios.loader import load
from scenarios.panic import panic
from scenarios.runner import backends_for
from scenarios.session import EXIT_FAILED, EXIT_INFRA, EXIT_OK
from stack.process import signal_pid
from stack.state import read_state

END_WAIT_S = 180.0
ABORT_WAIT_S = 60.0


def stop_worker(store: DrillStore, wait_s: float) -> bool:
    """SIGTERM the background process (it rolls back); True once it is gone."""
    state = store.read()
    if state.worker is not None and store.worker_alive(state):
        signal_pid(state.worker.pid, state.worker.start_time)
    return wait_gone(store, wait_s, "waiting for the drill's process to roll back")


def wait_gone(store: DrillStore, wait_s: float, what: str) -> bool:
    deadline = time.monotonic() + wait_s
    last_word = time.monotonic()
    while store.worker_alive():
        if time.monotonic() > deadline:
            return False
        if time.monotonic() - last_word >= PROGRESS_EVERY_S:
            last_word = time.monotonic()
            say(f"   {what}...")
        time.sleep(0.25)
    return True


def cleanup(store: DrillStore, state_dir: Path, say: Callable[[str], None]) -> list[str]:
    """Whatever the drill left (its process is gone): the emergency stop's rollback."""
    from scenarios.cli import restarter

    report = panic(state_dir, restarter(state_dir), say=say)
    for problem in report.problems:
        say(f"error: {problem}")
    return report.undone


def close_drill(store: DrillStore, phase: str) -> None:
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
        say(f"could not draw the run report of {run_dir}: {exc}")


def cmd_end(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    store = DrillStore.require(state_dir)
    state = store.read()
    if state.phase in ("starting", "running") and store.worker_alive(state):

        def ask(state: DrillState) -> None:
            state.end_requested_at = now()
            state.phase = "ending"

        store.update(ask)
        say("ending the drill: stopping the load, rolling the faults back, judging the signals")
        if not wait_gone(store, END_WAIT_S, "still winding down"):
            say(f"   it did not finish in {END_WAIT_S:g} s: stopping it")
            stop_worker(store, ABORT_WAIT_S)
    elif store.worker_alive(state):
        wait_gone(store, END_WAIT_S, "waiting for the drill's process to finish")
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
            rolled_back += cleanup(store, state_dir, say)
    else:
        say("the drill's process had died: judging what it saw, then cleaning up after it")
        verdicts = _judge_after_crash(store, secret, state_dir)
        rolled_back = cleanup(store, state_dir, say)
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
    close_drill(store, "ended")
    _print_journal(journal)
    say(f"\ndrill journal: {json_path}\nreview:        {md_path}")
    report = Path(journal.run_dir) / "report.html"
    if report.exists():
        say(f"run report:    {report}")
    say(f"replay:        {journal.replay()}")
    if journal.status != "scored":
        return EXIT_INFRA
    if any(a.status == "error" for a in journal.automated):
        return EXIT_INFRA
    return EXIT_FAILED if journal.uncaught else EXIT_OK


def cmd_abort(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    store = DrillStore.require(state_dir)
    say(f"aborting drill {store.id}: stopping its load and rolling its faults back")
    if not stop_worker(store, ABORT_WAIT_S):
        say("error: the drill's process did not stop; `chaoslab panic` will")
    undone = cleanup(store, state_dir, say)
    state, secret = store.read(), store.read_secret()
    journal = build(
        state, secret, status="aborted", ended_at=now(), verdicts=[], rolled_back=undone
    )
    out_dir: Path = args.out or Path("out") / "drills" / state.id
    json_path, _md = _write_out(journal, out_dir, Path(secret.run_dir))
    close_drill(store, "ended")
    say(f"aborted; it was {secret.scenario}. The stack is clean. Journal: {json_path}")
    return EXIT_OK


def _print_journal(journal: DrillJournal) -> None:
    start = journal.fault_started_at
    say(f"\n== drill {journal.drill_id}: {journal.scenario} — {journal.title}")
    if journal.status != "scored":
        say(f"   {journal.status.upper()}: {journal.error or 'no score'}")
    for fault in journal.faults:
        seen = next((s for s in journal.seen if s.id == fault.id), None)
        when = (
            f"{seen.started_at:%H:%M:%S}"
            if seen is not None and seen.started_at
            else "never started"
        )
        say(f"   fault {fault.id}: {fault.kind} on {fault.component} ({fault.diagnosis}) at {when}")
    say("\ndeclarations (delay from the fault's start):")
    for d in journal.declarations:
        mark = "early" if d.before_fault else d.verdict
        say(
            f"  {clock(d.delay_s):>7} {mark.upper():<6} {d.by}: {d.text} "
            f"[component {'ok' if d.component_correct else 'no'}, "
            f"kind {'ok' if d.kind_correct else 'no'}]"
        )
    say("\nautomated signals (time to detect from the fault's start):")
    for a in journal.automated:
        ttd = "-" if a.time_to_detect_s is None else f"{a.time_to_detect_s:.1f} s"
        note = " (must stay absent)" if a.absent else ""
        say(f"  {a.status.upper():<7} {a.signal:<7} {a.id:<28} {ttd:>8}{note}")
    for line in journal.uncaught:
        say(f"  NOT CAUGHT: {line}")
    if journal.status == "scored":
        say(f"\nscore: {journal.score.summary}")
        for p in journal.score.pillars:
            auto = "-" if p.automated_s is None else f"{p.automated_s:.1f} s"
            human = "-" if p.human_s is None else f"{p.human_s:.1f} s ({p.human_by})"
            say(f"  {p.signal:<7} automated {auto:>8}   team {human}")
        say(f"  hints used: {journal.score.hints_used}")
    if start is None and journal.status == "scored":
        say("  (no fault ever started: the drill ended before its offset)")
