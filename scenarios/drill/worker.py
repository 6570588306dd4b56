"""The drill's background process: ``python -m scenarios.drill.worker STATE_DIR``.

``drill start`` spawns it in a session of its own, its output going to the
facilitator's ``worker.log``. It runs the drill scenario on the attached stack
through the same :func:`~scenarios.session.execute` as ``chaoslab run``: load
at once, the hidden faults at their offset, the expectations polled live. As
things happen it saves them to the facilitator's secret (the load's start,
each fault's real start, each settled expectation), so a ``drill end`` after
this process was killed still knows what happened. It ends when ``drill end``
asks (or at the drill's longest duration), rolling every fault back.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import TextIO

from assertions.engine import Verdict
from scenarios.annotations import FaultAnnotations, annotate_regions
from scenarios.console import Console
from scenarios.drill.model import DrillState, FaultSeen, Phase, Secret
from scenarios.drill.plan import drill_scenario
from scenarios.drill.store import DrillStore, now
from scenarios.journal import Journal
from scenarios.loader import load
from scenarios.session import execute
from stack.state import read_state


class DrillConsole(Console):
    """The run's console, written to the facilitator's log, that also saves what happened."""

    def __init__(self, store: DrillStore, out: TextIO) -> None:
        super().__init__(out=out, every_s=15.0)
        self.store = store

    def header(
        self, name: str, title: str, run_id: str, no_fault: bool, duration: float, seed: int
    ) -> None:
        super().header(name, title, run_id, no_fault, duration, seed)
        started = now()
        stack = read_state(self.store.dir.parent.parent)
        log_offset = 0 if stack is None else _size(Path(stack.endpoints.target_log))

        def note(secret: Secret) -> None:
            secret.run_id = run_id
            secret.load_started_at = started
            secret.log_offset = log_offset

        self.store.update_secret(note)

        def running(state: DrillState) -> None:
            state.phase = "running"
            state.started_at = started

        self.store.update(running)

    def fault(self, elapsed: float, action: str, fault_id: str, detail: str) -> None:
        super().fault(elapsed, action, fault_id, detail)
        at = now()

        def seen(secret: Secret) -> None:
            record = next((s for s in secret.seen if s.id == fault_id), None)
            if record is None:
                record = FaultSeen(id=fault_id)
                secret.seen.append(record)
            if action == "start":
                record.started_at, record.detail = at, detail
            elif action == "end":
                record.ended_at = at

        self.store.update_secret(seen)

    def settled(self, elapsed: float, verdict: Verdict) -> None:
        super().settled(elapsed, verdict)

        def keep(secret: Secret) -> None:
            secret.verdicts = [v for v in secret.verdicts if v.id != verdict.id] + [verdict]

        self.store.update_secret(keep)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def run(store: DrillStore, out: TextIO) -> int:
    secret = store.read_secret()
    scenario = load(Path(secret.source))
    drill = drill_scenario(scenario, secret.offset_s, secret.max_duration_s)
    journal = execute(
        drill,
        source=Path(secret.source),
        out_dir=Path(secret.run_dir),
        state_dir=store.dir.parent.parent,
        seed=secret.seed,
        console=DrillConsole(store, out),
        until=store.end_requested,
        attach_only=True,
        restart_all=True,  # every drill restarts the same services: no restart gives it away
        annotate=False,  # a fault on the dashboard would give it away: posted once it is over
    )
    _annotate(store, journal, out)
    phases: dict[str, Phase] = {"passed": "finished", "failed": "finished", "aborted": "aborted"}
    phase = phases.get(journal.status, "failed")

    def done(state: DrillState) -> None:
        state.phase = phase
        if phase == "failed":
            state.problem = "the lab failed; `chaoslab drill end` shows why"

    store.update(done)

    def final(secret: Secret) -> None:
        secret.verdicts = list(journal.expectations)
        secret.error = journal.error

    store.update_secret(final)
    return 0


def _annotate(store: DrillStore, journal: Journal, out: TextIO) -> None:
    """The drill's faults, now over, as regions on the stack's Grafana (when it runs one)."""
    stack = read_state(store.dir.parent.parent)
    if stack is None or journal.no_fault:
        return
    notes = FaultAnnotations.for_stack(
        stack.endpoints, scenario=journal.scenario, run_id=journal.run_id
    )
    done = [
        (f.id, f.kind, f.detail or f.kind, f.started_at, f.ended_at)
        for f in journal.faults
        if f.injected and f.started_at is not None and f.ended_at is not None
    ]
    for problem in annotate_regions(notes, done):
        print(f"warning: {problem}", file=out, flush=True)


def _failed(store: DrillStore, error: str) -> None:
    def mark(state: DrillState) -> None:
        state.phase = "failed"
        state.problem = "the drill could not run; `chaoslab drill end` shows why"

    def keep(secret: Secret) -> None:
        secret.error = error

    store.update(mark)
    store.update_secret(keep)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    state_dir, drill_id = Path(args[0]), args[1]
    store = DrillStore(state_dir, drill_id)
    out = sys.stdout
    try:
        return run(store, out)
    except Exception as exc:
        traceback.print_exc(file=out)
        _failed(store, f"{type(exc).__name__}: {exc}")
        return 3


if __name__ == "__main__":
    sys.exit(main())
