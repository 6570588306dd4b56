"""One ``chaoslab run``: pick the stack, run the scenario (and its control), judge, exit code.

    journal = execute(scenario, source=path, out_dir=Path("out"), state_dir=Path(".chaoslab"),
                      mode="control")
    sys.exit(exit_code(journal))

* Runs on one stack are serialized by an advisory lock (``<state_dir>/run.lock``),
  so two terminals, or two pytest-xdist workers, never inject into one stack at once.
* A healthy stack that ``chaoslab up`` left running is attached to (never
  stopped); otherwise a stack is started for the run and stopped after it
  (``keep_stack`` leaves it up, ``fresh`` forces a throwaway one).
* A run refuses to start while a dead run's faults are still recorded in the
  ledger (``chaoslab panic`` cleans them), and waits until no alert is pending
  or firing.
* Every run has a seed (drawn when none is given) recorded in the journal.
* ``mode="control"`` runs the fault run, then the identical no-fault run on the
  same stack, and judges every expectation proven / vacuous / missed (held or
  broken for ``absent`` ones).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from assertions import PrometheusClient
from assertions.exceptions import AssertionsError
from assertions.expectations import AlertExpectation
from scenarios.alertwatch import unexpected_alerts, wait_quiet
from scenarios.clock import Clock, SystemClock
from scenarios.console import Console
from scenarios.evidence import record as record_evidence
from scenarios.exceptions import LabNotReady, RunAborted, ScenarioError
from scenarios.journal import (
    ControlReport,
    ExpectationJudgement,
    Journal,
    Judgement,
    UnexpectedAlert,
    write,
)
from scenarios.ledger import leftovers, read_ledgers
from scenarios.model import Scenario
from scenarios.profiles import rejected
from scenarios.runner import LAB_ERRORS, Runner, abort_on_signals, new_run_id
from stack.exceptions import ProfileRejected
from stack.process import pid_alive, process_start_time, stop_pid
from stack.seam import Stack

Mode = Literal["fault", "no_fault", "control"]
RUN_LOCK = "run.lock"
EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INFRA = 0, 1, 2, 3


def draw_seed() -> int:
    return secrets.randbelow(2**31)


@contextlib.contextmanager
def run_lock(state_dir: Path, console: Console) -> Iterator[None]:
    """Hold the stack's run lock; waits (saying so) while another run holds it."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / RUN_LOCK).open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            console.say(f"   another run is using the stack in {state_dir}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def judge(scenario: Scenario, fault: Journal, control: Journal) -> list[ExpectationJudgement]:
    """Each expectation's verdict in the fault run against the control run."""
    in_control = {v.id: v for v in control.expectations}
    judgements: list[ExpectationJudgement] = []
    for exp, verdict in zip(scenario.expectations, fault.expectations, strict=False):
        other = in_control.get(verdict.id)
        control_status = other.status if other is not None else "error"
        statuses = (verdict.status, control_status)
        judgement: Judgement
        if any(s in ("error", "pending") for s in statuses):
            judgement = "error"
        elif exp.absent:
            judgement = "held" if statuses == ("passed", "passed") else "broken"
        elif verdict.status != "passed":
            judgement = "missed"
        else:
            judgement = "vacuous" if control_status == "passed" else "proven"
        judgements.append(
            ExpectationJudgement(
                id=verdict.id,
                kind=verdict.kind,
                absent=exp.absent,
                fault_status=verdict.status,
                control_status=control_status,
                judgement=judgement,
            )
        )
    return judgements


def exit_code(journal: Journal) -> int:
    """0 all met (and, with a control, all proven), 1 some not met, 3 the lab failed."""
    if journal.status in ("error", "aborted"):
        return EXIT_INFRA
    control = journal.control
    if control is not None:
        if control.status in ("error", "aborted") or any(
            j.judgement == "error" for j in control.judgements
        ):
            return EXIT_INFRA
        return EXIT_OK if control.all_good else EXIT_FAILED
    return EXIT_OK if journal.status == "passed" else EXIT_FAILED


def _failed_journal(
    scenario: Scenario, run_id: str, seed: int, status: str, error: str, out_dir: Path, clock: Clock
) -> Journal:
    now = clock.now()
    journal = Journal(
        scenario=scenario.name,
        run_id=run_id,
        started_at=now,
        finished_at=now,
        seed=seed,
        status="aborted" if status == "aborted" else "error",
        error=error,
        wall_time_s=0.0,
    )
    write(journal, out_dir)
    return journal


def _ensure_clean(state_dir: Path, console: Console) -> None:
    """Refuse to stack faults on a dead run's; stop what a dead run left running."""
    for path, ledger in read_ledgers(state_dir):
        if ledger.owner_alive or ledger.pending:
            continue
        for proc in ledger.processes:
            if pid_alive(proc.pid) and process_start_time(proc.pid) == proc.start_time:
                stop_pid(proc.pid, proc.start_time)
                console.say(
                    f"   stopped {proc.name} (pid {proc.pid}) left by dead run {ledger.run_id}"
                )
        path.unlink(missing_ok=True)
    dead = leftovers(state_dir)
    if dead:
        faults = "; ".join(
            f"run {ledger.run_id} ({ledger.scenario}): "
            + ", ".join(e.description for e in ledger.pending)
            for ledger in dead
        )
        raise LabNotReady(
            f"faults left by a run that died are still applied: {faults}. "
            "Run `chaoslab panic` to undo them first."
        )


def _prepare(
    stack: Stack, scenario: Scenario, console: Console, clock: Clock, restart_all: bool = False
) -> list[str]:
    restarted = stack.apply_settings(scenario.settings())
    if restart_all:  # every component with settings, changed or not: a restart tells nothing
        for name in scenario.settings():
            if name not in restarted:
                stack.restart(name)
                restarted.append(name)
    if restarted:
        console.say(f"   restarted {', '.join(restarted)} with the scenario's settings")
    wait_quiet(PrometheusClient(stack.endpoints.prometheus_url), clock, on_wait=console.say)
    return restarted


def _note_unexpected_alerts(
    journal: Journal, scenario: Scenario, stack: Stack, console: Console, out_dir: Path
) -> None:
    """Record (and print) every alert that fired during the run that no expectation names."""
    named = {e.alert for e in scenario.expectations if isinstance(e, AlertExpectation)}
    if journal.finished_at is not None:
        try:
            client = PrometheusClient(stack.endpoints.prometheus_url)
            journal.unexpected_alerts = unexpected_alerts(
                client, journal.started_at, journal.finished_at, named
            )
        except AssertionsError as exc:
            console.say(f"   could not list the alerts that fired: {exc}")
        first: dict[str, list[UnexpectedAlert]] = {}
        for alert in journal.unexpected_alerts:
            first.setdefault(alert.alertname, []).append(alert)
        for name, alerts in first.items():
            series = f" ({len(alerts)} series)" if len(alerts) > 1 else ""
            console.say(
                f"   unexpected alert {name}{series} firing since "
                f"{alerts[0].first_firing_at:%H:%M:%S} (no expectation names it)"
            )
        write(journal, out_dir)


def _render(run_dir: Path, console: Console) -> None:
    """Write ``report.html``; a report that cannot be drawn is said, never a failed run."""
    from scenarios.report import render_report  # matplotlib only when a report is drawn

    try:
        path = render_report(run_dir)
    except (ScenarioError, OSError, ValueError) as exc:
        console.say(f"   could not write the report of {run_dir}: {exc}")
        return
    console.say(f"report:  {path}")


def execute(
    scenario: Scenario,
    *,
    source: Path | None,
    out_dir: Path,
    state_dir: Path,
    seed: int | None = None,
    mode: Mode = "fault",
    fresh: bool = False,
    keep_stack: bool = False,
    console: Console | None = None,
    clock: Clock | None = None,
    until: Callable[[], bool] | None = None,
    attach_only: bool = False,
    restart_all: bool = False,
    annotate: bool = True,
) -> Journal:
    """Run ``scenario`` as asked; the journal is written to ``out_dir`` whatever happens."""
    from stack.open import open_stack  # the stack driver, only when a run really starts

    console = console or Console()
    clock = clock or SystemClock()
    seed = draw_seed() if seed is None else seed
    state_dir = state_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id()
    stack: Stack | None = None
    try:
        with abort_on_signals(), run_lock(state_dir, console):
            _ensure_clean(state_dir, console)
            stack = opened = open_stack(
                state_dir,
                fresh=fresh,
                keep=keep_stack,
                profile=scenario.profile,
                settings=scenario.settings(),
                progress=console.component,
                seed=seed,
                attach_only=attach_only,
            )
            console.say(
                "   on the running stack in " + str(state_dir) + " (attached; it stays up)"
                if not stack.owned
                else "   on a stack started for this run"
            )
            restarted = _prepare(stack, scenario, console, clock, restart_all)

            def once(out: Path, no_fault: bool, restarted: list[str]) -> Journal:
                journal = Runner(
                    scenario,
                    opened,
                    out_dir=out,
                    seed=seed,
                    no_fault=no_fault,
                    source=source,
                    console=console,
                    clock=clock,
                    ledger_dir=state_dir,
                    restarted=restarted,
                    until=until,
                    annotate=annotate,
                ).run()
                _note_unexpected_alerts(journal, scenario, opened, console, out)
                if journal.finished_at is not None:
                    record_evidence(scenario, journal, opened.endpoints, out)
                return journal

            journal = once(out_dir, mode == "no_fault", restarted)
            if mode == "control" and journal.status in ("passed", "failed"):
                _prepare(stack, scenario, console, clock)
                control_dir = out_dir / "control"
                control = once(control_dir, True, [])
                journal.control = ControlReport(
                    run_id=control.run_id,
                    status=control.status,
                    journal=str(control_dir / "journal.json"),
                    judgements=judge(scenario, journal, control),
                )
                write(journal, out_dir)
                console.judgements(journal.control)
                _render(control_dir, console)
            _render(out_dir, console)
            return journal
    except ProfileRejected as exc:
        # The profile cannot work as written: invalid input (exit 2), not a lab failure.
        raise rejected(scenario.profile, exc) from exc
    except RunAborted as exc:
        return _failed_journal(scenario, run_id, seed, "aborted", str(exc), out_dir, clock)
    except (*LAB_ERRORS, ScenarioError) as exc:
        error = f"{type(exc).__name__}: {exc}"
        console.say(f"error: {error}")
        return _failed_journal(scenario, run_id, seed, "error", error, out_dir, clock)
    finally:
        if stack is not None:
            stack.close()
