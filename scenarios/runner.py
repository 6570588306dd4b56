"""Run one scenario on a stack: load, fault timeline, expectations, journal.

    journal = Runner(scenario, stack, out_dir=Path("out"), seed=7).run()

The runner owns nothing of the stack: it gets one through the
:class:`~stack.seam.Stack` seam and leaves it as it found it (faults rolled
back). Time comes from an injectable :class:`~scenarios.clock.Clock`, Locust
through ``load_factory`` and the expectation engine through
``engine_factory``, so the timeline is unit-tested in virtual time.

* Every fault's undo is written to the on-disk ledger before the fault is
  applied; the ledger runs in ``finally`` and on SIGINT/SIGTERM (``aborted``).
* Probes run on their own thread: a slow backend never pushes a fault's start,
  end or rollback later; each fault's lateness is measured and journalled.
* Locust is checked on every tick: if it dies, or serves no request for longer
  than its think time and network timeout allow, the run is an ``error``.
* ``status`` is ``passed`` or ``failed`` only when the lab itself worked;
  any infrastructure failure (a backend, Locust, a fault call) is ``error``.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from assertions import (
    BugsinkClient,
    HealthClient,
    JaegerClient,
    LogReader,
    NotificationLogClient,
    PrometheusClient,
)
from assertions.engine import Engine, FaultSpan, Verdict
from assertions.exceptions import AssertionsError
from assertions.probes import Backends
from scenarios.annotations import FaultAnnotations
from scenarios.clock import Clock, SystemClock
from scenarios.console import Console, LiveFigures
from scenarios.controls import Controls
from scenarios.exceptions import FaultError, LoadFailed, RunAborted, ScenarioError
from scenarios.export.recording import record as record_series
from scenarios.faults import Fault
from scenarios.injectors import Injector
from scenarios.journal import FaultRecord, Journal, RunStatus, write
from scenarios.ledger import RollbackLedger, RunProcess, ledger_path
from scenarios.load import LoadRun
from scenarios.loadmodel import LiveFigures as LoadLive
from scenarios.loadmodel import LoadReport, LoadSpec
from scenarios.model import Scenario
from scenarios.undo import Undo, perform
from stack.exceptions import StackError
from stack.seam import Stack
from stack.state import StackState

TICK_S = 0.25
POLL_S = 1.0
FIRST_REQUEST_GRACE_S = 30.0
EARLY_EXIT_SLACK_S = 3.0
LAB_ERRORS = (StackError, FaultError, LoadFailed, AssertionsError, OSError)


class LoadHandle(Protocol):
    """What the runner needs of a load run (met by :class:`~scenarios.load.LoadRun`)."""

    def start(self) -> None: ...
    def running(self) -> bool: ...
    def processes(self) -> list[tuple[str, int, int | None]]: ...
    def live(self, window_s: float = 5.0) -> LoadLive: ...
    def last_request_at(self) -> float | None: ...
    def stop(self) -> object: ...
    def report(self, faults: Sequence[tuple[float, float]] = ()) -> LoadReport: ...
    def log_tail(self, lines: int = 30) -> str: ...


class Judge(Protocol):
    """What the runner needs of the expectation engine (met by :class:`Engine`)."""

    @property
    def verdicts(self) -> list[Verdict]: ...
    @property
    def done(self) -> bool: ...
    def poll(
        self, now: datetime, faults: dict[str, FaultSpan], run_ended: datetime | None = None
    ) -> list[Verdict]: ...
    def finish(self, now: datetime, faults: dict[str, FaultSpan]) -> list[Verdict]: ...


class FaultApplier(Protocol):
    def apply(self, fault: Fault) -> str: ...
    def release(self, fault_id: str) -> None: ...
    def close(self) -> None: ...


LoadFactory = Callable[[LoadSpec, str, Path, "Path | None"], LoadHandle]
EngineFactory = Callable[[Scenario, StackState, str, datetime], Judge]


def load_source(scenario: Scenario) -> dict[str, Any]:
    """Where the users come from: the profile's Locust file and classes, or its request mix."""
    load = scenario.profile.load
    if load.requests:
        mix = {
            "requests": [r.model_dump(by_alias=True) for r in load.requests],
            "vars": {name: list(bounds) for name, bounds in load.vars.items()},
        }
        return {"request_mix": json.dumps(mix), "user_classes": ("RequestMixUser",)}
    chosen = scenario.load.user_class
    classes = (chosen,) if chosen is not None else tuple(load.user_classes)
    user_file = None if load.locustfile is None else str(scenario.profile.path(load.locustfile))
    return {"user_file": user_file, "user_classes": classes}


def default_load(spec: LoadSpec, target_url: str, out_dir: Path, base_dir: Path | None) -> LoadRun:
    return LoadRun(spec, target_url, out_dir, base_dir=base_dir)


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


def default_engine(scenario: Scenario, state: StackState, run_id: str, t0: datetime) -> Engine:
    offset = _size(state.endpoints.target_log)
    # A service that does not tag its Sentry events with the run id is matched by time only.
    tagged = run_id if scenario.profile.tags_run_id else ""
    return Engine(scenario.expectations, backends_for(state, tagged, offset), t0)


@contextmanager
def abort_on_signals() -> Iterator[None]:
    """Turn SIGINT/SIGTERM into :class:`RunAborted` in the main thread while running."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are delivered to the main thread only; nothing to install
        return

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
    if threading.current_thread() is not threading.main_thread():
        yield
        return
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


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


class _Prober:
    """Runs engine polls on one background thread, never more than one at a time."""

    def __init__(self, engine: Judge) -> None:
        self.engine = engine
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chaoslab-probe")
        self._future: Future[list[Verdict]] | None = None

    @property
    def busy(self) -> bool:
        return self._future is not None and not self._future.done()

    def submit(
        self, now: datetime, spans: dict[str, FaultSpan], ended: datetime | None, wait_s: float
    ) -> None:
        """Start a poll; wait up to ``wait_s`` real seconds for it (0 in production)."""
        if not self.busy:
            future = self._pool.submit(self.engine.poll, now, dict(spans), ended)
            self._future = future
            if wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    future.exception(timeout=wait_s)

    def collect(self) -> list[Verdict]:
        """Verdicts settled by the last poll, once it is done (re-raising its error)."""
        if self._future is None or not self._future.done():
            return []
        future, self._future = self._future, None
        return future.result()

    def drain(self, timeout: float) -> list[Verdict]:
        if self._future is not None:
            self._future.exception(timeout=timeout)
        return self.collect()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class Runner:
    scenario: Scenario
    stack: Stack
    out_dir: Path
    seed: int = 0
    no_fault: bool = False
    source: Path | None = None
    console: Console = field(default_factory=Console)
    clock: Clock = field(default_factory=SystemClock)
    run_id: str = field(default_factory=new_run_id)
    load_factory: LoadFactory = default_load
    engine_factory: EngineFactory = default_engine
    injector_factory: Callable[[RollbackLedger], FaultApplier] | None = None
    perform_undo: Callable[[Undo], None] | None = None
    ledger_dir: Path | None = None
    restarted: list[str] = field(default_factory=list)
    #: Real seconds to wait for each poll before the timeline moves on: 0 in production
    #: (probes never hold the timeline), a moment in virtual-time tests (deterministic).
    probe_wait_s: float = 0.0
    #: Asked every tick: once it answers True the load ends early, as if its duration
    #: were up (a game-day drill ends when the facilitator says so).
    until: Callable[[], bool] | None = None
    #: Post each fault's start and end to the stack's Grafana, when it runs one (a drill
    #: keeps its faults off the dashboard until it ends).
    annotate: bool = True

    def run(self) -> Journal:
        started = self.clock.now()
        self._notes = (
            FaultAnnotations.for_stack(
                self.stack.endpoints, scenario=self.scenario.name, run_id=self.run_id
            )
            if self.annotate and not self.no_fault
            else None
        )
        profile = self.stack.state.profile
        journal = Journal(
            scenario=self.scenario.name,
            run_id=self.run_id,
            started_at=started,
            no_fault=self.no_fault,
            seed=self.seed,
            stack=self.stack.state.stack,
            stack_owned=self.stack.owned,
            restarted=list(self.restarted),
            target_profile=None if profile is None else profile.name,
            rule_time_scale=None if profile is None else profile.rule_time_scale,
            faults=[
                FaultRecord(
                    id=f.id,
                    kind=f.kind,
                    target=fault_target(f),
                    injected=not self.no_fault,
                    scheduled_at=f.at,
                )
                for f in self.scenario.faults
            ],
        )
        self.out_dir.mkdir(parents=True, exist_ok=True)
        controls = Controls(self.stack.endpoints, self.clock)
        ledger = RollbackLedger(
            self.perform_undo or (lambda undo: perform(undo, controls, self.stack.restart)),
            path=None if self.ledger_dir is None else ledger_path(self.ledger_dir, self.run_id),
            run_id=self.run_id,
            scenario=self.scenario.name,
            clock=self.clock,
        )
        injector: FaultApplier = (
            self.injector_factory(ledger)
            if self.injector_factory is not None
            else Injector(self.stack.state, ledger, controls)
        )
        load: LoadHandle | None = None
        self.console.header(
            self.scenario.name,
            self.scenario.title,
            self.run_id,
            self.no_fault,
            self.scenario.load.duration,
            seed=self.seed,
        )
        try:
            with abort_on_signals():
                load = self._start_load()
                ledger.record_processes(
                    [RunProcess(name=n, pid=p, start_time=t) for n, p, t in load.processes()]
                )
                self._timeline(journal, injector, ledger, load)
        except RunAborted as exc:
            journal.status = "aborted"
            journal.error = str(exc)
        except LoadFailed as exc:
            journal.status = "error"
            journal.error = f"LoadFailed: {str(exc).splitlines()[0]}"
            journal.load_log_tail = exc.log_tail or (load.log_tail() if load else None)
        except (*LAB_ERRORS, ScenarioError) as exc:
            journal.status = "error"
            journal.error = f"{type(exc).__name__}: {exc}"
        finally:
            with signals_deferred():
                self._wind_down(journal, ledger, injector, load, controls, started)
        self.console.verdicts(journal.status, journal.expectations, journal.wall_time_s or 0)
        if journal.error:
            self.console.say(f"error: {journal.error}")
        for warning in journal.warnings:
            self.console.say(f"warning: {warning}")
        return journal

    def _wind_down(
        self,
        journal: Journal,
        ledger: RollbackLedger,
        injector: FaultApplier,
        load: LoadHandle | None,
        controls: Controls,
        started: datetime,
    ) -> None:
        journal.rollback_errors = ledger.rollback()
        journal.rolled_back = list(ledger.rolled_back)
        ledger.close()
        injector.close()
        controls.close()
        now = self.clock.now()
        for record in journal.faults:
            if record.started_at is not None and record.ended_at is None:
                record.ended_at = now
                if self._notes is not None:
                    self._notes.ended(record.id, at=now)
        if self._notes is not None:
            journal.warnings.extend(self._notes.problems)
        if load is not None:
            load.stop()
            journal.load = self._load_summary(load, journal)
        journal.finished_at = now
        journal.wall_time_s = round((now - started).total_seconds(), 3)
        if journal.rollback_errors and journal.status in ("passed", "failed"):
            journal.status = "error"
            journal.error = "a fault could not be rolled back: " + "; ".join(
                journal.rollback_errors
            )
        journal.series_errors = record_series(
            self.stack.state, self.scenario.profile, journal, self.out_dir
        )
        write(journal, self.out_dir)

    def _start_load(self) -> LoadHandle:
        settings = self.scenario.load
        spec = LoadSpec(
            run_id=self.run_id,
            duration_s=settings.duration,
            users=settings.users,
            spawn_rate=settings.spawn_rate,
            shape=settings.shape,
            seed=self.seed,
            wait_min_s=settings.wait_min,
            wait_max_s=settings.wait_max,
            workers=settings.workers,
            expect_workers=settings.expect_workers,
            **load_source(self.scenario),
        )
        base_dir = self.source.parent if self.source is not None else None
        load = self.load_factory(
            spec, self.stack.endpoints.target_url, self.out_dir / "load", base_dir
        )
        load.start()
        return load

    def _silence_limit(self) -> float:
        """How long Locust may go without finishing a request before it counts as dead."""
        settings = self.scenario.load
        network_timeout: float = LoadSpec.model_fields["network_timeout_s"].default
        return settings.wait_max + network_timeout + 5.0

    def _check_load(self, load: LoadHandle, elapsed: float, t0_unix: float) -> None:
        duration = self.scenario.load.duration
        if not load.running() and elapsed < duration - EARLY_EXIT_SLACK_S:
            raise LoadFailed(
                f"Locust exited {elapsed:.1f} s into a {duration:g} s run", load.log_tail()
            )
        if elapsed >= duration:
            return
        last = load.last_request_at()
        now_unix = t0_unix + elapsed
        if last is None:
            if elapsed > FIRST_REQUEST_GRACE_S:
                raise LoadFailed(
                    f"Locust served no request in the first {FIRST_REQUEST_GRACE_S:g} s",
                    load.log_tail(),
                )
            return
        quiet = now_unix - last
        if quiet > self._silence_limit():
            raise LoadFailed(
                f"Locust finished no request for {quiet:.0f} s (limit "
                f"{self._silence_limit():.0f} s: think time + network timeout)",
                load.log_tail(),
            )

    def _timeline(
        self, journal: Journal, injector: FaultApplier, ledger: RollbackLedger, load: LoadHandle
    ) -> None:
        scenario = self.scenario
        t0 = self.clock.now()
        t0_mono = self.clock.monotonic()
        engine = self.engine_factory(scenario, self.stack.state, self.run_id, t0)
        prober = _Prober(engine)
        spans: dict[str, FaultSpan] = {}
        records = {r.id: r for r in journal.faults}
        duration = scenario.load.duration
        last_poll: float | None = None
        run_ended: datetime | None = None
        try:
            while True:
                elapsed = self.clock.monotonic() - t0_mono
                for fault in scenario.faults:
                    record = records[fault.id]
                    if record.started_at is None and elapsed >= fault.at:
                        self._start_fault(fault, record, injector, elapsed)
                        record.start_lateness_s = _late(record.started_at, t0, fault.at)
                        spans[fault.id] = FaultSpan(record.started_at or self.clock.now())
                    elif record.ended_at is None and record.started_at and elapsed >= fault.end:
                        self._end_fault(fault, record, injector, ledger, elapsed)
                        record.end_lateness_s = _late(record.ended_at, t0, fault.end)
                        spans[fault.id] = FaultSpan(spans[fault.id].started, record.ended_at)
                now = self.clock.now()
                if run_ended is None:
                    self._check_load(load, elapsed, t0.timestamp())
                    if elapsed >= duration or (self.until is not None and self.until()):
                        run_ended = now
                        load.stop()
                for verdict in prober.collect():
                    self.console.settled(elapsed, verdict)
                journal.expectations = engine.verdicts
                mono = self.clock.monotonic()
                if (last_poll is None or mono - last_poll >= POLL_S) and not prober.busy:
                    last_poll = mono
                    prober.submit(now, spans, run_ended, self.probe_wait_s)
                active = [f for f, s in spans.items() if s.ended is None]
                met = sum(1 for v in engine.verdicts if v.status == "passed")
                phase = "after" if run_ended else ("fault" if active else "load")
                live = load.live()
                figures = LiveFigures(live.rps, live.p95_ms, live.error_rate)
                self.console.tick(elapsed, phase, figures, active, met, len(engine.verdicts))
                if run_ended is not None and (
                    (engine.done and not prober.busy)
                    or now >= run_ended + timedelta(seconds=scenario.grace)
                ):
                    break
                self.clock.sleep(TICK_S)
            for verdict in prober.drain(timeout=60.0):
                self.console.settled(self.clock.monotonic() - t0_mono, verdict)
        finally:
            prober.close()
        journal.expectations = engine.finish(self.clock.now(), spans)
        journal.status = settle_status(journal.expectations)
        errors = [v for v in journal.expectations if v.status == "error"]
        if errors:
            journal.error = "a backend could not be asked: " + "; ".join(
                f"{v.id}: {v.message.splitlines()[0] if v.message else 'error'}" for v in errors
            )

    def _start_fault(
        self, fault: Fault, record: FaultRecord, injector: FaultApplier, elapsed: float
    ) -> None:
        if self.no_fault:
            record.started_at = self.clock.now()
            record.detail = "control run: not injected"
            self.console.fault(elapsed, "skip", fault.id, "control run, not injected")
            return
        try:
            record.detail = injector.apply(fault)
        except FaultError as exc:
            record.error = str(exc)
            raise
        record.started_at = self.clock.now()  # in effect only now
        self.console.fault(elapsed, "start", fault.id, record.detail)
        if self._notes is not None:
            self._notes.started(fault.id, fault.kind, record.detail, at=record.started_at)

    def _end_fault(
        self,
        fault: Fault,
        record: FaultRecord,
        injector: FaultApplier,
        ledger: RollbackLedger,
        elapsed: float,
    ) -> None:
        errors = ledger.undo(fault.id)
        if not self.no_fault:
            injector.release(fault.id)
        record.ended_at = self.clock.now()
        if self._notes is not None:
            self._notes.ended(fault.id, at=record.ended_at)
        if errors:
            record.error = "; ".join(errors)
            self.console.fault(elapsed, "end", fault.id, "rollback FAILED (retried at the end)")
        elif self.no_fault:
            self.console.fault(elapsed, "end", fault.id, "control run, nothing to undo")
        else:
            self.console.fault(elapsed, "end", fault.id, "rolled back")

    def _load_summary(self, load: LoadHandle, journal: Journal) -> LoadReport:
        now = self.clock.now()
        faults = [
            (r.started_at.timestamp(), (r.ended_at or now).timestamp())
            for r in journal.faults
            if r.started_at is not None
        ]
        return load.report(faults)


def settle_status(verdicts: Sequence[Verdict]) -> RunStatus:
    """``error`` when a backend could not be asked, else ``passed`` only when all passed."""
    if any(v.status in ("error", "pending") for v in verdicts):
        return "error"
    return "passed" if all(v.status == "passed" for v in verdicts) else "failed"


def _late(at: datetime | None, t0: datetime, scheduled: float) -> float | None:
    if at is None:
        return None
    return round((at - t0).total_seconds() - scheduled, 3)


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0
