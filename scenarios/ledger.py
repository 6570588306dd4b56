"""The rollback ledger, persisted: every fault's undo is on disk *before* the fault is applied.

    <state_dir>/faults/<run_id>.json

The file is created when the run starts (it also says which process runs it,
so ``chaoslab panic`` can signal that run), rewritten atomically with fsync at
every change, and removed when the run ends with nothing left to undo. So no
process death can strand a fault: ``chaoslab panic``, ``status``, ``up``,
``run`` and ``down`` read these files.

Undos run newest first. An undo is marked done only once it succeeded; the
final :meth:`RollbackLedger.rollback` retries the ones that failed, and one
failing undo never stops the others.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from scenarios.clock import Clock, SystemClock
from scenarios.journal import write_atomic
from scenarios.undo import Undo
from stack.process import pid_alive, process_start_time

FAULTS_DIR = "faults"
RETRIES = 3
RETRY_DELAY_S = 1.0


class LedgerEntry(BaseModel):
    key: str = Field(description="the fault id")
    description: str
    undo: Undo
    done: bool = False
    error: str | None = Field(default=None, description="the last failed attempt's error")


class RunProcess(BaseModel):
    """A process the run started (Locust) that must not outlive it."""

    name: str
    pid: int
    start_time: int | None = None


class LedgerFile(BaseModel):
    """What ``faults/<run_id>.json`` holds."""

    run_id: str
    scenario: str
    pid: int
    start_time: int | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    entries: list[LedgerEntry] = Field(default_factory=list)
    processes: list[RunProcess] = Field(default_factory=list)

    @property
    def pending(self) -> list[LedgerEntry]:
        return [e for e in self.entries if not e.done]

    @property
    def owner_alive(self) -> bool:
        """Is the run that wrote this file still running (same PID, same start time)?"""
        return pid_alive(self.pid) and (
            self.start_time is None or process_start_time(self.pid) == self.start_time
        )


def faults_dir(state_dir: Path) -> Path:
    return state_dir / FAULTS_DIR


def ledger_path(state_dir: Path, run_id: str) -> Path:
    return faults_dir(state_dir) / f"{run_id}.json"


def read_ledgers(state_dir: Path) -> list[tuple[Path, LedgerFile]]:
    """Every ledger file in ``state_dir`` (unreadable ones are reported as such)."""
    found: list[tuple[Path, LedgerFile]] = []
    for path in sorted(faults_dir(state_dir).glob("*.json")):
        try:
            found.append((path, LedgerFile.model_validate_json(path.read_text())))
        except (OSError, ValidationError):
            continue  # a file being replaced right now; the next look sees it whole
    return found


def leftovers(state_dir: Path) -> list[LedgerFile]:
    """Ledgers of runs that died with faults still applied."""
    return [
        ledger
        for _path, ledger in read_ledgers(state_dir)
        if ledger.pending and not ledger.owner_alive
    ]


def clear_ledgers(state_dir: Path) -> None:
    """Forget every ledger (the stack they were about has been stopped)."""
    for path in faults_dir(state_dir).glob("*.json"):
        path.unlink(missing_ok=True)


class RollbackLedger:
    """One run's ledger; ``path`` None keeps it in memory only (unit tests)."""

    def __init__(
        self,
        perform: Callable[[Undo], None],
        *,
        path: Path | None = None,
        run_id: str = "",
        scenario: str = "",
        clock: Clock | None = None,
    ) -> None:
        self._perform = perform
        self.path = path
        self.clock = clock or SystemClock()
        self._lock = threading.RLock()
        self.file = LedgerFile(
            run_id=run_id,
            scenario=scenario,
            pid=os.getpid(),
            start_time=process_start_time(os.getpid()),
        )
        self.rolled_back: list[str] = []
        self._save()

    @property
    def entries(self) -> list[LedgerEntry]:
        return self.file.entries

    @property
    def pending(self) -> list[str]:
        with self._lock:
            return [e.description for e in self.file.pending]

    def register(self, key: str, description: str, undo: Undo) -> None:
        """Record how to undo ``key`` (on disk, synced); call this before applying the fault."""
        with self._lock:
            self.file.entries.append(LedgerEntry(key=key, description=description, undo=undo))
            self._save()

    def record_processes(self, processes: list[RunProcess]) -> None:
        """Note the run's own child processes, so a panic after its death can stop them."""
        with self._lock:
            self.file.processes = list(processes)
            self._save()

    def undo(self, key: str) -> list[str]:
        """Undo one fault's entries (its end on the timeline); returns the errors."""
        with self._lock:
            targets = [e for e in reversed(self.file.entries) if e.key == key and not e.done]
        return self._run(targets)

    def rollback(self, retries: int = RETRIES) -> list[str]:
        """Undo everything still applied, newest first, retrying failures.

        Returns one error per undo that still failed after the last attempt.
        """
        for attempt in range(retries):
            with self._lock:
                targets = [e for e in reversed(self.file.entries) if not e.done]
            if not targets:
                break
            if attempt:
                self.clock.sleep(RETRY_DELAY_S)
            self._run(targets)
        with self._lock:
            return [f"undo of {e.description} failed: {e.error}" for e in self.file.pending]

    def close(self) -> None:
        """Remove the file when nothing is left to undo; keep it (for panic) otherwise."""
        with self._lock:
            if self.path is not None and not self.file.pending:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()

    def _run(self, targets: list[LedgerEntry]) -> list[str]:
        errors: list[str] = []
        for entry in targets:
            try:
                self._perform(entry.undo)
            except Exception as exc:  # every undo must get its turn
                with self._lock:
                    entry.error = f"{type(exc).__name__}: {exc}"
                    self._save()
                errors.append(f"undo of {entry.description} failed: {entry.error}")
                continue
            with self._lock:
                entry.done = True
                entry.error = None
                self.rolled_back.append(entry.description)
                self._save()
        return errors

    def _save(self) -> None:
        if self.path is not None:
            write_atomic(self.path, self.file.model_dump_json(indent=2) + "\n")
