"""The rollback ledger: every fault's undo is registered *before* the fault is applied.

Undos run newest first, each at most once, on every exit path (normal end,
error, SIGINT/SIGTERM); one failing undo does not stop the others.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Entry:
    key: str
    description: str
    undo: Callable[[], None]
    done: bool = False
    error: str | None = None


@dataclass
class RollbackLedger:
    entries: list[Entry] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def register(self, key: str, description: str, undo: Callable[[], None]) -> None:
        """Record how to undo ``key``; call this before applying the fault."""
        with self._lock:
            self.entries.append(Entry(key, description, undo))

    def undo(self, key: str) -> list[str]:
        """Undo one fault's entries (its end on the timeline); returns errors."""
        with self._lock:
            targets = [e for e in reversed(self.entries) if e.key == key and not e.done]
        return self._run(targets)

    def rollback(self) -> list[str]:
        """Undo everything still applied, newest first; returns the errors."""
        with self._lock:
            targets = [e for e in reversed(self.entries) if not e.done]
        return self._run(targets)

    @property
    def pending(self) -> list[str]:
        with self._lock:
            return [e.description for e in self.entries if not e.done]

    def _run(self, targets: list[Entry]) -> list[str]:
        errors = []
        for entry in targets:
            with self._lock:
                if entry.done:
                    continue
                entry.done = True
            try:
                entry.undo()
            except Exception as exc:  # every undo must get its turn
                entry.error = f"{type(exc).__name__}: {exc}"
                errors.append(f"undo of {entry.description} failed: {entry.error}")
        return errors
