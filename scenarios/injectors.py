"""Apply a fault to the running stack, its undo written to the ledger first.

Every injector returns only once its fault is in effect (the toxic is listed,
the proxy reports disabled, the lock is granted, the process is stopped...),
so the journal's ``started_at`` is the moment the fault really began; a fault
that never takes effect is a :class:`~scenarios.exceptions.FaultError`.
"""

from __future__ import annotations

from typing import Any

from scenarios.controls import Controls
from scenarios.exceptions import FaultError
from scenarios.faults import (
    AppFault,
    DbConnectionHogFault,
    DbLockFault,
    Fault,
    ProcessFault,
    ProxyDownFault,
    ToxicFault,
)
from scenarios.ledger import RollbackLedger
from scenarios.undo import (
    EnableProxy,
    EndSessions,
    RemoveToxic,
    ResetSwitches,
    RestartComponent,
    ResumeProcess,
)
from stack.state import StackState


class Injector:
    """Applies faults of one run to one stack."""

    def __init__(self, state: StackState, ledger: RollbackLedger, controls: Controls) -> None:
        self.state = state
        self.ledger = ledger
        self.controls = controls
        self._held: dict[str, list[Any]] = {}

    def close(self) -> None:
        for connections in self._held.values():
            self.controls.close_connections(connections)
        self._held.clear()

    def apply(self, fault: Fault) -> str:
        """Inject ``fault``; returns a one-line account of what was done."""
        match fault:
            case ToxicFault():
                return self._toxic(fault)
            case ProxyDownFault():
                return self._proxy_down(fault)
            case DbLockFault():
                return self._db_lock(fault)
            case DbConnectionHogFault():
                return self._db_hog(fault)
            case AppFault():
                return self._app(fault)
            case ProcessFault():
                return self._process(fault)
        raise FaultError(f"unknown fault {fault!r}")  # pragma: no cover - exhaustive

    def release(self, fault_id: str) -> None:
        """Close the client side of the sessions a fault held (its undo ended the server side)."""
        self.controls.close_connections(self._held.pop(fault_id, []))

    def _toxic(self, fault: ToxicFault) -> str:
        name = f"chaoslab-{fault.id}"
        undo = RemoveToxic(proxy=fault.target, name=name)
        self.ledger.register(fault.id, f"toxic {name} on {fault.target}", undo)
        body = {
            "name": name,
            "type": fault.toxic,
            "stream": fault.stream,
            "toxicity": fault.toxicity,
            "attributes": fault.attributes,
        }
        self.controls.add_toxic(fault.target, body)
        return f"{fault.toxic} toxic on {fault.target} ({fault.stream}) {fault.attributes}"

    def _proxy_down(self, fault: ProxyDownFault) -> str:
        undo = EnableProxy(proxy=fault.target)
        self.ledger.register(fault.id, f"proxy {fault.target} disabled", undo)
        self.controls.set_proxy_enabled(fault.target, False)
        return f"proxy {fault.target} disabled"

    def _db_lock(self, fault: DbLockFault) -> str:
        held = self._held.setdefault(fault.id, [])
        self.ledger.register(
            fault.id, f"lock on {fault.table} ({fault.mode})", EndSessions(fault_id=fault.id)
        )

        async def lock() -> None:
            conn = await self.controls.connect(fault.id, fault.target)
            held.append(conn)
            await conn.execute("BEGIN")
            # The table is an identifier (the model's pattern) and the mode one of a
            # closed set of literals; LOCK returns only once the lock is granted.
            await conn.execute(f"LOCK TABLE {fault.table} IN {fault.mode} MODE")

        self.controls.pg_run(lock(), f"locking {fault.table}")
        return f"{fault.mode} lock held on {fault.table}"

    def _db_hog(self, fault: DbConnectionHogFault) -> str:
        held = self._held.setdefault(fault.id, [])
        self.ledger.register(
            fault.id, f"{fault.connections} hogged connections", EndSessions(fault_id=fault.id)
        )

        async def hog() -> None:
            for _ in range(fault.connections):
                held.append(await self.controls.connect(fault.id, fault.target))

        self.controls.pg_run(hog(), f"opening {fault.connections} connections", timeout=60)
        return f"{len(held)} server connections held"

    def _app(self, fault: AppFault) -> str:
        self.ledger.register(fault.id, f"app switches {sorted(fault.switches)}", ResetSwitches())
        self.controls.set_switches(fault.switches)
        return f"app switches {fault.switches}"

    def _process(self, fault: ProcessFault) -> str:
        record = self.state.components.get(fault.target)
        if record is None or record.pid is None:
            raise FaultError(f"no {fault.target} process is recorded")
        pid, started = record.pid, record.start_time
        if fault.action == "pause":
            undo = ResumeProcess(component=fault.target, pid=pid, start_time=started)
            self.ledger.register(fault.id, f"{fault.target} paused", undo)
            self.controls.pause(pid, started)
            return f"{fault.target} (pid {pid}) paused with SIGSTOP"
        undo_restart = RestartComponent(component=fault.target)
        self.ledger.register(fault.id, f"{fault.target} killed (restart)", undo_restart)
        self.controls.kill(pid, started)
        return f"{fault.target} (pid {pid}) killed; restarted when the fault ends"


__all__ = ["FaultError", "Injector"]
