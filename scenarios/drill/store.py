"""Where a drill lives on disk, so every command works from any terminal and after a crash.

    <state_dir>/drills/current              the id of the drill under way
    <state_dir>/drills/<id>/drill.json      DrillState: what responders may read
    <state_dir>/drills/<id>/facilitator/    mode 0700: secret.json, worker.log, run/

Every change is a read-modify-write under an exclusive lock, written
atomically (temp file, fsync, rename), so two terminals declaring at once
both land and a crash never leaves half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from scenarios.drill.model import LIVE_PHASES, DrillState, Secret
from scenarios.exceptions import DrillInvalid
from scenarios.journal import write_atomic
from stack.process import pid_alive, process_start_time

DRILLS_DIR = "drills"
CURRENT = "current"


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return f"{now():%Y%m%d-%H%M}-{secrets.token_hex(2)}"


class DrillStore:
    """One drill's files."""

    def __init__(self, state_dir: Path, drill_id: str) -> None:
        self.root = state_dir.resolve() / DRILLS_DIR
        self.id = drill_id
        self.dir = self.root / drill_id
        self.facilitator_dir = self.dir / "facilitator"
        self.state_file = self.dir / "drill.json"
        self.secret_file = self.facilitator_dir / "secret.json"
        self.worker_log = self.facilitator_dir / "worker.log"
        self.run_dir = self.facilitator_dir / "run"

    # -- finding the drill -------------------------------------------------------------

    @classmethod
    def create(cls, state_dir: Path, state: DrillState, secret: Secret) -> DrillStore:
        store = cls(state_dir, state.id)
        store.facilitator_dir.mkdir(parents=True, exist_ok=False)
        store.facilitator_dir.chmod(0o700)
        store.write_secret(secret)
        store._write(store.state_file, state)
        write_atomic(store.root / CURRENT, state.id + "\n")
        return store

    @classmethod
    def current(cls, state_dir: Path) -> DrillStore | None:
        try:
            drill_id = (state_dir.resolve() / DRILLS_DIR / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        store = cls(state_dir, drill_id)
        return store if store.state_file.exists() else None

    @classmethod
    def require(cls, state_dir: Path) -> DrillStore:
        store = cls.current(state_dir)
        if store is None:
            raise DrillInvalid(
                f"no drill is under way on the stack in {state_dir} "
                "(`chaoslab drill start` begins one)"
            )
        return store

    def close(self) -> None:
        """The drill is over: the next ``drill start`` may begin another."""
        with self._locked():
            (self.root / CURRENT).unlink(missing_ok=True)

    # -- the files ---------------------------------------------------------------------

    def read(self) -> DrillState:
        return DrillState.model_validate_json(self.state_file.read_text())

    def read_secret(self) -> Secret:
        return Secret.model_validate_json(self.secret_file.read_text())

    def write_secret(self, secret: Secret) -> None:
        self._write(self.secret_file, secret)

    def update(self, change: Callable[[DrillState], None]) -> DrillState:
        """Apply ``change`` to the state under the lock and save it."""
        with self._locked():
            state = self.read()
            change(state)
            self._write(self.state_file, state)
            return state

    def update_secret(self, change: Callable[[Secret], None]) -> Secret:
        with self._locked():
            secret = self.read_secret()
            change(secret)
            self.write_secret(secret)
            return secret

    def end_requested(self) -> bool:
        return self.read().end_requested_at is not None

    def worker_alive(self, state: DrillState | None = None) -> bool:
        worker = (state or self.read()).worker
        if worker is None:
            return False
        return pid_alive(worker.pid) and (
            worker.start_time is None or process_start_time(worker.pid) == worker.start_time
        )

    def live(self, state: DrillState | None = None) -> bool:
        """Is the drill's background process at work (or about to be)?"""
        state = state or self.read()
        return state.phase in LIVE_PHASES and (state.worker is None or self.worker_alive(state))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @staticmethod
    def _write(path: Path, model: BaseModel) -> None:
        write_atomic(path, model.model_dump_json(indent=2) + "\n")
        if path.parent.name == "facilitator":
            os.chmod(path, 0o600)
