"""Run a scenario end to end: stack, load, fault timeline, expectations, journal.

    journal = Runner(scenario, out_dir=Path("out")).run()

Every fault registers its undo in the rollback ledger before it is applied;
the ledger runs in ``finally`` and on SIGINT/SIGTERM (journal status
``aborted``). With ``no_fault`` the identical load and timeline run, nothing
is injected: the control run.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from assertions import (
    BugsinkClient,
    HealthClient,
    JaegerClient,
    LogReader,
    NotificationLogClient,
    PrometheusClient,
)
from assertions.engine import Engine, FaultSpan
from assertions.probes import Backends
from scenarios.console import Console, LiveFigures
from scenarios.exceptions import RunAborted, ScenarioError
from scenarios.faults import Fault
from scenarios.injectors import FaultError, Injector
from scenarios.journal import FaultRecord, Journal, write
from scenarios.ledger import RollbackLedger
from scenarios.load import LoadRun
from scenarios.loadmodel import LoadReport, LoadSpec
from scenarios.model import Scenario
from stack.exceptions import StackError
from stack.local import LocalStack
from stack.state import StackState

TICK_S = 0.25
POLL_S = 1.0


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextmanager
def abort_on_signals() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into :class:`RunAborted` in the main thread while running."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise RunAborted(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM while cleaning up, so a second Ctrl-C cannot skip the rollback."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def fault_target(fault: Fault) -> str:
    target = getattr(fault, "target", None)
    if isinstance(target, str):
        return target
    return {"db_lock": "postgres", "db_connection_hog": "postgres", "app": "target"}.get(
        fault.kind, fault.kind
    )


def backends_for(state: StackState, run_id: str, log_offset: int) -> Backends:
    ep = state.endpoints
    return Backends(
        prometheus=PrometheusClient(ep.prometheus_url),
        notifications=NotificationLogClient(ep.webhook_url),
        traces=JaegerClient(ep.traces_url),
        sentry=BugsinkClient(ep.bugsink_url, ep.sentry_api_token, ep.sentry_project_id),
        logs=LogReader(ep.target_log, offset=log_offset),
        health=HealthClient(ep.target_url),
        run_id=run_id,
    )


@dataclass
class Runner:
    scenario: Scenario
    out_dir: Path
    state_dir: Path = Path(".chaoslab")
    seed: int | None = None
    no_fault: bool = False
    keep_stack: bool = False
    source: Path | None = None
    console: Console = field(default_factory=Console)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def run(self) -> Journal:
        started = utcnow()
        journal = Journal(
            scenario=self.scenario.name,
            run_id=self.run_id,
            started_at=started,
            no_fault=self.no_fault,
            seed=self.seed,
            faults=[
                FaultRecord(
                    id=f.id, kind=f.kind, target=fault_target(f), injected=not self.no_fault
                )
                for f in self.scenario.faults
            ],
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        ledger = RollbackLedger()
        stack: LocalStack | None = None
        injector: Injector | None = None
        load: LoadRun | None = None
        self.console.header(
            self.scenario.name,
            self.scenario.title,
            self.run_id,
            self.no_fault,
            self.scenario.load.duration,
        )
        try:
            with abort_on_signals():
                stack = LocalStack(
                    self.state_dir,
                    target_env=self.scenario.target.env(),
                    classifier_env=self.scenario.classifier.env(),
                    progress=self.console.component,
                    seed=self.seed,
                    detached=self.keep_stack,
                )
                stack.up()
                injector = Injector(stack.state, ledger, restart=stack.restart)
                load = self._start_load(stack.state)
                self._timeline(journal, stack.state, injector, ledger, load)
        except RunAborted as exc:
            journal.status = "aborted"
            journal.error = str(exc)
        except (StackError, FaultError, ScenarioError, OSError) as exc:
            journal.status = "error"
            journal.error = f"{type(exc).__name__}: {exc}"
        finally:
            with signals_deferred():
                journal.rollback_errors = ledger.rollback()
                journal.rolled_back = [e.description for e in ledger.entries if e.done]
                if load is not None:
                    load.stop()
                    journal.load = self._load_summary(load, journal)
                if injector is not None:
                    injector.close()
                if stack is not None and not self.keep_stack:
                    stack.down()
                now = utcnow()
                for record in journal.faults:
                    if record.started_at is not None and record.ended_at is None:
                        record.ended_at = now
                journal.finished_at = now
                journal.wall_time_s = round((now - started).total_seconds(), 3)
                write(journal, self.out_dir)
        self.console.verdicts(journal.status, journal.expectations, journal.wall_time_s or 0)
        if journal.error:
            self.console.say(f"error: {journal.error}")
        return journal

    def _start_load(self, state: StackState) -> LoadRun:
        settings = self.scenario.load
        spec = LoadSpec(
            run_id=self.run_id,
            duration_s=settings.duration,
            users=settings.users,
            spawn_rate=settings.spawn_rate,
            shape=settings.shape,
            seed=self.seed or 0,
            wait_min_s=settings.wait_min,
            wait_max_s=settings.wait_max,
        )
        base_dir = self.source.parent if self.source is not None else None
        load = LoadRun(spec, state.endpoints.target_url, self.out_dir / "load", base_dir=base_dir)
        load.start()
        return load

    def _timeline(
        self,
        journal: Journal,
        state: StackState,
        injector: Injector,
        ledger: RollbackLedger,
        load: LoadRun,
    ) -> None:
        scenario = self.scenario
        log_offset = _size(state.endpoints.target_log)
        t0 = utcnow()
        engine = Engine(scenario.expectations, backends_for(state, self.run_id, log_offset), t0)
        spans: dict[str, FaultSpan] = {}
        records = {r.id: r for r in journal.faults}
        duration = scenario.load.duration
        last_poll = 0.0
        run_ended: datetime | None = None
        while True:
            now = utcnow()
            elapsed = (now - t0).total_seconds()
            for fault in scenario.faults:
                record = records[fault.id]
                if record.started_at is None and elapsed >= fault.at:
                    self._start_fault(fault, record, injector, elapsed)
                    spans[fault.id] = FaultSpan(record.started_at or now)
                elif record.ended_at is None and record.started_at and elapsed >= fault.end:
                    errors = ledger.undo(fault.id)
                    record.ended_at = utcnow()
                    record.error = "; ".join(errors) or record.error
                    spans[fault.id] = FaultSpan(spans[fault.id].started, record.ended_at)
                    self.console.fault(elapsed, "end", fault.id, "rolled back")
            if run_ended is None and elapsed >= duration:
                run_ended = now
                load.stop()
            if time.monotonic() - last_poll >= POLL_S:
                last_poll = time.monotonic()
                for verdict in engine.poll(now, spans, run_ended):
                    self.console.settled(elapsed, verdict)
                journal.expectations = engine.verdicts
            active = [f for f, s in spans.items() if s.ended is None]
            met = sum(1 for v in engine.verdicts if v.status == "passed")
            phase = "after" if run_ended else ("fault" if active else "load")
            live = load.live()
            figures = LiveFigures(live.rps, live.p95_ms, live.error_rate)
            self.console.tick(elapsed, phase, figures, active, met, len(engine.verdicts))
            if run_ended is not None and (
                engine.done or now >= run_ended + timedelta(seconds=scenario.grace)
            ):
                break
            time.sleep(TICK_S)
        journal.expectations = engine.finish(utcnow(), spans)
        passed = all(v.status == "passed" for v in engine.verdicts)
        journal.status = "passed" if passed else "failed"

    def _start_fault(
        self, fault: Fault, record: FaultRecord, injector: Injector, elapsed: float
    ) -> None:
        record.started_at = utcnow()
        if self.no_fault:
            record.detail = "control run: not injected"
            self.console.fault(elapsed, "skip", fault.id, "control run, not injected")
            return
        record.detail = injector.apply(fault)
        self.console.fault(elapsed, "start", fault.id, record.detail)

    @staticmethod
    def _load_summary(load: LoadRun, journal: Journal) -> LoadReport:
        faults = [
            (r.started_at.timestamp(), (r.ended_at or utcnow()).timestamp())
            for r in journal.faults
            if r.started_at is not None
        ]
        return load.report(faults)


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
