"""``chaoslab panic``: the emergency stop, from any terminal, at any time.

1. every ``chaoslab run`` that is injecting into this stack is told to abort
   (SIGTERM to its recorded PID, checked against its start time) and given a
   moment to roll its own faults back;
2. every undo still recorded in a ledger (runs that died) is carried out;
3. then, whatever any ledger says: every app switch is turned off, every toxic
   removed and every proxy re-enabled, every lab-held PostgreSQL session ended,
   and every stopped (SIGSTOP) component resumed.

Idempotent: a second panic on a clean stack does nothing and says so.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scenarios.clock import Clock, SystemClock
from scenarios.controls import Controls, process_state
from scenarios.exceptions import FaultError
from scenarios.journal import write_atomic
from scenarios.ledger import LedgerFile, read_ledgers
from scenarios.undo import perform
from stack.process import pid_alive, process_start_time, signal_pid, stop_pid
from stack.state import StackState, read_state

RUN_EXIT_WAIT_S = 30.0


@dataclass
class PanicReport:
    undone: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    remaining: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems and not self.remaining


def _signal_runs(
    state_dir: Path, report: PanicReport, clock: Clock, say: Callable[[str], None]
) -> None:
    live = [(path, ledger) for path, ledger in read_ledgers(state_dir) if ledger.owner_alive]
    for _path, ledger in live:
        if signal_pid(ledger.pid, ledger.start_time, signal.SIGTERM):
            say(f"told run {ledger.run_id} ({ledger.scenario}, pid {ledger.pid}) to abort")
            report.undone.append(f"aborted run {ledger.run_id}")
    deadline = clock.monotonic() + RUN_EXIT_WAIT_S
    while any(ledger.owner_alive for _p, ledger in live) and clock.monotonic() < deadline:
        clock.sleep(0.2)
    for _path, ledger in live:
        if ledger.owner_alive:
            report.problems.append(f"run {ledger.run_id} (pid {ledger.pid}) did not stop")


def _replay_ledgers(
    state_dir: Path,
    controls: Controls,
    restart: Callable[[str], None],
    report: PanicReport,
    say: Callable[[str], None],
) -> None:
    for path, ledger in read_ledgers(state_dir):
        if ledger.owner_alive:
            continue
        for proc in ledger.processes:
            if pid_alive(proc.pid) and process_start_time(proc.pid) == proc.start_time:
                stop_pid(proc.pid, proc.start_time)
                say(f"stopped {proc.name} (pid {proc.pid}) of dead run {ledger.run_id}")
                report.undone.append(f"stopped {proc.name} of run {ledger.run_id}")
        for entry in reversed(ledger.pending):
            try:
                perform(entry.undo, controls, restart)
            except Exception as exc:  # every undo gets its turn; reported below
                entry.error = f"{type(exc).__name__}: {exc}"
                report.problems.append(f"undo of {entry.description} failed: {entry.error}")
                continue
            entry.done = True
            say(f"undid {entry.description} (run {ledger.run_id})")
            report.undone.append(entry.description)
        _save_or_remove(path, ledger)


def _save_or_remove(path: Path, ledger: LedgerFile) -> None:
    if ledger.pending:
        write_atomic(path, ledger.model_dump_json(indent=2) + "\n")
    else:
        path.unlink(missing_ok=True)


def _sweep(
    state: StackState, controls: Controls, report: PanicReport, say: Callable[[str], None]
) -> None:
    def step(what: str, action: Callable[[], list[str]]) -> None:
        try:
            for line in action():
                say(line)
                report.undone.append(line)
        except FaultError as exc:
            report.problems.append(f"{what}: {exc}")

    def proxies() -> list[str]:
        done: list[str] = []
        for name, proxy in controls.proxies().items():
            for toxic in controls.toxics(name):
                controls.remove_toxic(name, toxic["name"])
                done.append(f"removed toxic {toxic['name']} from {name}")
            if not proxy.get("enabled", True):
                controls.set_proxy_enabled(name, True)
                done.append(f"re-enabled proxy {name}")
        return done

    def switches() -> list[str]:
        on = {k: v for k, v in controls.switches().items() if k in _ACTIVE and v != _ACTIVE[k]}
        controls.reset_switches()
        return [f"turned off app switches {sorted(on)}"] if on else []

    def sessions() -> list[str]:
        count = controls.terminate_sessions()
        return [f"ended {count} lab-held PostgreSQL session(s)"] if count else []

    def stopped() -> list[str]:
        done: list[str] = []
        for name, record in state.components.items():
            if record.pid is not None and process_state(record.pid) in ("T", "t"):
                controls.resume(record.pid, record.start_time)
                done.append(f"resumed {name} (pid {record.pid}, was stopped)")
        return done

    ep = state.endpoints
    if ep.toxiproxy_url:
        step("Toxiproxy", proxies)
    if ep.target_url and ep.chaos_token:
        step("fault switches", switches)
    if ep.postgres_dsn or ep.database_dsns:
        step("PostgreSQL sessions", sessions)
    step("stopped processes", stopped)


# A switch counts as "on" when it differs from these off values (target_app.chaos defaults).
_ACTIVE: dict[str, object] = {
    "exception_rate": 0.0,
    "cpu_burn_ms": 0.0,
    "memory_growth_kb": 0,
    "slow_query_s": 0.0,
    "pool_max": None,
}


def panic(
    state_dir: Path,
    restart: Callable[[str], None],
    say: Callable[[str], None] = print,
    clock: Clock | None = None,
) -> PanicReport:
    """Undo every fault on the stack in ``state_dir``; see the module docstring."""
    clock = clock or SystemClock()
    state_dir = state_dir.resolve()
    report = PanicReport()
    _signal_runs(state_dir, report, clock, say)
    state = read_state(state_dir)
    if state is None:  # no stack: whatever was injected went down with it
        for path, ledger in read_ledgers(state_dir):
            if ledger.pending:
                say(f"no stack is up: dropped the record of run {ledger.run_id}'s faults")
            path.unlink(missing_ok=True)
        return report
    controls = Controls(state.endpoints, clock)
    try:
        _replay_ledgers(state_dir, controls, restart, report, say)
        _sweep(state, controls, report, say)
    finally:
        controls.close()
    for _path, ledger in read_ledgers(state_dir):
        report.remaining += [e.description for e in ledger.pending]
    return report
