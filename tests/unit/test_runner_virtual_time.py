"""The runner's timeline in virtual time: fault order, rollback, load health, grace, control.

Every collaborator the runner has a seam for is a small in-memory double
here (stack, load, engine, injector); time is a :class:`VirtualClock`, so a
70 s scenario runs in milliseconds and every figure is exact.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from assertions.engine import FaultSpan, Verdict
from scenarios.clock import VirtualClock
from scenarios.console import Console
from scenarios.exceptions import FaultError, RunAborted
from scenarios.faults import Fault
from scenarios.journal import Journal
from scenarios.ledger import LedgerFile, RollbackLedger, ledger_path
from scenarios.loader import parse
from scenarios.loadmodel import LiveFigures, LoadReport
from scenarios.model import Scenario
from scenarios.runner import TICK_S, Runner
from scenarios.session import exit_code, judge
from scenarios.undo import EndSessions, Undo
from stack.state import Endpoints, StackState

SCENARIO = """
name: virtual
title: two overlapping faults
load: {users: 5, duration: 60s, wait_min: 100ms, wait_max: 200ms}
grace: 20s
faults:
  - {id: first, kind: app, at: 10s, duration: 20s, switches: {slow_query_s: 1.0}}
  - {id: second, kind: app, at: 20s, duration: 25s, switches: {exception_rate: 0.5}}
expectations:
  - {id: seen, kind: metric, query: up, op: ">", threshold: 0, window: {fault: first}}
  - {id: quiet, kind: sentry, absent: true}
"""


def scenario(text: str = SCENARIO) -> Scenario:
    return parse(text, Path("virtual.yaml"))


@dataclass
class FakeStack:
    state: StackState = field(default_factory=lambda: StackState(state_dir="/nonexistent"))
    owned: bool = False
    restarts: list[str] = field(default_factory=list)

    @property
    def endpoints(self) -> Endpoints:
        return self.state.endpoints

    def apply_settings(self, settings: Mapping[str, Mapping[str, str]]) -> list[str]:
        return []

    def restart(self, component: str) -> None:
        self.restarts.append(component)

    def close(self) -> None:
        pass


@dataclass
class FakeLoad:
    """Locust as the runner sees it: alive until ``dies_at``, requests until ``silent_from``."""

    clock: VirtualClock
    t0: float = 0.0
    dies_at: float | None = None
    silent_from: float | None = None
    stopped: bool = False

    def start(self) -> None:
        self.t0 = self.clock.monotonic()

    def _elapsed(self) -> float:
        return self.clock.monotonic() - self.t0

    def running(self) -> bool:
        return not self.stopped and (self.dies_at is None or self._elapsed() < self.dies_at)

    def processes(self) -> list[tuple[str, int, int | None]]:
        return [("locust", 999_999, None)]

    def live(self, window_s: float = 5.0) -> LiveFigures:
        return LiveFigures(
            at=0.0, window_s=window_s, requests=10, rps=2.0, p95_ms=5.0, error_rate=0.0
        )

    def last_request_at(self) -> float | None:
        elapsed = self._elapsed()
        if elapsed < 1.0:
            return None
        last = elapsed if self.silent_from is None else min(elapsed, self.silent_from)
        return self.clock.now().timestamp() - (elapsed - last)

    def stop(self) -> None:
        self.stopped = True

    def report(self, faults: Sequence[tuple[float, float]] = ()) -> LoadReport:
        return LoadReport(requests=100)

    def log_tail(self, lines: int = 30) -> str:
        return "    locust: Traceback (most recent call last): boom"


class FakeEngine:
    """Passes ``seen`` once its fault has run for ``detect_after`` s; ``quiet`` at the end."""

    def __init__(
        self, scn: Scenario, detect_after: float | None = 3.0, gate: threading.Event | None = None
    ) -> None:
        self._verdicts = [Verdict(id=e.id, kind=e.kind, description=e.id) for e in scn.expectations]
        self.detect_after = detect_after
        self.gate = gate
        self.polls: list[datetime] = []
        self.finished = False

    @property
    def verdicts(self) -> list[Verdict]:
        return self._verdicts

    @property
    def done(self) -> bool:
        return all(v.status != "pending" for v in self._verdicts)

    def poll(
        self, now: datetime, faults: dict[str, FaultSpan], run_ended: datetime | None = None
    ) -> list[Verdict]:
        if self.gate is not None:
            self.gate.wait(timeout=10)
        self.polls.append(now)
        if run_ended is not None and self._verdicts[1].status == "pending":
            self._verdicts[1].status, self._verdicts[1].passed = "passed", True
        seen = self._verdicts[0]
        span = faults.get("first")
        if (
            seen.status == "pending"
            and span is not None
            and self.detect_after is not None
            and (now - span.started).total_seconds() >= self.detect_after
        ):
            seen.status, seen.passed = "passed", True
            seen.time_to_detect_s = round((now - span.started).total_seconds(), 3)
            return [seen]
        return []

    def finish(self, now: datetime, faults: dict[str, FaultSpan]) -> list[Verdict]:
        self.finished = True
        for v in self._verdicts:
            if v.status == "pending":
                v.status = "passed" if v.id == "quiet" else "failed"
                v.passed = v.status == "passed"
        return self._verdicts


@dataclass
class FakeInjector:
    ledger: RollbackLedger
    clock: VirtualClock
    events: list[tuple[str, str, float]] = field(default_factory=list)
    fail_on: str | None = None
    abort_on: str | None = None

    def apply(self, fault: Fault) -> str:
        if fault.id == self.abort_on:
            raise RunAborted("SIGTERM")
        self.ledger.register(fault.id, f"switches of {fault.id}", EndSessions(fault_id=fault.id))
        if fault.id == self.fail_on:
            raise FaultError(f"{fault.id} did not take effect within 5 s")
        self.events.append(("apply", fault.id, self.clock.monotonic()))
        return f"applied {fault.id}"

    def release(self, fault_id: str) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Harness:
    tmp_path: Path
    scn: Scenario = field(default_factory=scenario)
    clock: VirtualClock = field(default_factory=VirtualClock)
    undo_failures: dict[str, int] = field(default_factory=dict)
    undone: list[tuple[str, float]] = field(default_factory=list)
    injector: FakeInjector | None = None
    engine: FakeEngine | None = None
    load: FakeLoad | None = None
    ledger_on_disk: list[LedgerFile] = field(default_factory=list)
    stack: FakeStack = field(default_factory=FakeStack)

    def perform(self, undo: Undo) -> None:
        assert isinstance(undo, EndSessions)
        key = undo.fault_id
        remaining = self.undo_failures.get(key, 0)
        if remaining:
            self.undo_failures[key] = remaining - 1
            raise FaultError("toxiproxy did not answer")
        self.undone.append((undo.action, self.clock.monotonic()))

    def run(self, no_fault: bool = False, **engine_kwargs: Any) -> Journal:
        self.engine = FakeEngine(self.scn, **engine_kwargs)
        self.load = FakeLoad(self.clock, **self.load_kwargs)

        def make_injector(ledger: RollbackLedger) -> FakeInjector:
            self.injector = FakeInjector(ledger, self.clock, **self.injector_kwargs)
            return self.injector

        runner = Runner(
            self.scn,
            self.stack,
            out_dir=self.tmp_path / "out",
            seed=11,
            no_fault=no_fault,
            console=Console(quiet=True),
            clock=self.clock,
            run_id="virtualrun000001",
            load_factory=lambda *_args: self.load,  # type: ignore[arg-type]  # a FakeLoad
            engine_factory=lambda *_args: self.engine,  # type: ignore[arg-type]  # a FakeEngine
            injector_factory=make_injector,
            perform_undo=self.perform,
            ledger_dir=self.tmp_path / "state",
            probe_wait_s=1.0,
        )
        return runner.run()

    injector_kwargs: dict[str, Any] = field(default_factory=dict)
    load_kwargs: dict[str, Any] = field(default_factory=dict)


def test_faults_start_and_end_in_order_on_schedule(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    journal = h.run()
    assert h.injector is not None
    assert [(e[0], e[1]) for e in h.injector.events] == [("apply", "first"), ("apply", "second")]
    first, second = journal.faults
    assert first.started_at is not None
    assert first.ended_at is not None
    assert second.started_at is not None
    assert second.ended_at is not None
    assert first.started_at < second.started_at < first.ended_at < second.ended_at
    for record in journal.faults:
        assert record.start_lateness_s is not None
        assert 0 <= record.start_lateness_s <= TICK_S
        assert record.end_lateness_s is not None
        assert 0 <= record.end_lateness_s <= TICK_S
    # The undos ran when each fault ended: first's at ~30 s, second's at ~45 s.
    assert [round(at) for _action, at in h.undone] == [30, 45]
    assert journal.rolled_back == ["switches of first", "switches of second"]
    assert journal.rollback_errors == []
    assert journal.status == "passed"
    assert exit_code(journal) == 0
    assert journal.seed == 11
    # Nothing left to undo: the ledger file is gone.
    assert not ledger_path(tmp_path / "state", "virtualrun000001").exists()


def test_the_run_ends_as_soon_as_every_expectation_settled_after_the_load(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    journal = h.run()
    assert journal.wall_time_s is not None
    assert 60 <= journal.wall_time_s <= 60 + 2 * TICK_S + 1.0


def test_grace_period_bounds_an_unsettled_run(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    journal = h.run(detect_after=None)
    assert h.engine is not None
    assert h.engine.finished
    assert journal.wall_time_s is not None
    assert 80 <= journal.wall_time_s <= 80 + 2 * TICK_S + 1.0  # 60 s load + 20 s grace
    assert journal.status == "failed"
    assert exit_code(journal) == 1


def test_undo_is_on_disk_before_the_fault_is_applied(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    seen_on_disk: list[list[str]] = []
    original = FakeInjector.apply

    def spying_apply(self: FakeInjector, fault: Fault) -> str:
        result = original(self, fault)
        path = ledger_path(tmp_path / "state", "virtualrun000001")
        on_disk = LedgerFile.model_validate_json(path.read_text())
        seen_on_disk.append([e.key for e in on_disk.pending])
        return result

    FakeInjector.apply = spying_apply  # type: ignore[method-assign]
    try:
        h.run()
    finally:
        FakeInjector.apply = original  # type: ignore[method-assign]
    assert seen_on_disk == [["first"], ["first", "second"]]


def test_a_failed_undo_is_retried_and_reported_truthfully(tmp_path: Path) -> None:
    h = Harness(tmp_path, undo_failures={"first": 1})
    journal = h.run()
    # It failed at the fault's end, then succeeded on the final rollback's retry.
    assert journal.rolled_back == ["switches of second", "switches of first"]
    assert journal.rollback_errors == []
    assert journal.faults[0].error is not None
    assert "did not answer" in journal.faults[0].error


def test_an_undo_that_never_succeeds_makes_the_run_an_error_and_stays_on_disk(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, undo_failures={"first": 99})
    journal = h.run()
    assert journal.rolled_back == ["switches of second"]
    assert journal.rollback_errors == [
        "undo of switches of first failed: FaultError: toxiproxy did not answer"
    ]
    assert journal.status == "error"
    assert exit_code(journal) == 3
    ledger = LedgerFile.model_validate_json(
        ledger_path(tmp_path / "state", "virtualrun000001").read_text()
    )
    assert [e.description for e in ledger.pending] == ["switches of first"]


def test_abort_rolls_back_what_was_applied(tmp_path: Path) -> None:
    h = Harness(tmp_path, injector_kwargs={"abort_on": "second"})
    journal = h.run()
    assert journal.status == "aborted"
    assert journal.rolled_back == ["switches of first"]
    assert journal.faults[1].started_at is None
    assert exit_code(journal) == 3


def test_a_fault_that_never_takes_effect_is_an_error_not_a_failure(tmp_path: Path) -> None:
    h = Harness(tmp_path, injector_kwargs={"fail_on": "first"})
    journal = h.run()
    assert journal.status == "error"
    assert journal.error is not None
    assert "did not take effect" in journal.error
    assert journal.faults[0].started_at is None
    assert journal.rolled_back == ["switches of first"]  # registered before, undone after
    assert exit_code(journal) == 3


def test_locust_dying_mid_run_is_an_error_with_its_output(tmp_path: Path) -> None:
    journal = Harness(tmp_path, load_kwargs={"dies_at": 25.0}).run()
    assert journal.status == "error"
    assert journal.error is not None
    assert "Locust exited 25." in journal.error
    assert journal.load_log_tail is not None
    assert "Traceback" in journal.load_log_tail
    assert journal.rolled_back == ["switches of second", "switches of first"]
    assert exit_code(journal) == 3


def test_locust_serving_nothing_for_too_long_is_an_error(tmp_path: Path) -> None:
    journal = Harness(tmp_path, load_kwargs={"silent_from": 5.0}).run()
    assert journal.status == "error"
    assert journal.error is not None
    assert "finished no request" in journal.error
    # limit = wait_max 0.2 + network timeout 30 + 5 = 35.2 s after the last request at 5 s
    assert journal.wall_time_s is not None
    assert 40 <= journal.wall_time_s <= 41
    assert exit_code(journal) == 3


def test_a_slow_backend_does_not_delay_the_timeline(tmp_path: Path) -> None:
    gate = threading.Event()
    h = Harness(tmp_path)

    def release_when_first_ends(undo: Undo) -> None:
        h.undone.append((undo.action, h.clock.monotonic()))
        gate.set()

    h.perform = release_when_first_ends  # type: ignore[method-assign]
    journal = h.run(gate=gate)
    first = journal.faults[0]
    # The probe thread was stuck until the first fault's undo; the fault still
    # started and ended on time.
    assert first.start_lateness_s is not None
    assert first.start_lateness_s <= TICK_S
    assert first.end_lateness_s is not None
    assert first.end_lateness_s <= TICK_S
    assert h.engine is not None
    assert h.engine.polls
    assert journal.status == "passed"


def test_control_run_injects_nothing_and_records_the_seed(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    journal = h.run(no_fault=True, detect_after=None)
    assert h.injector is not None
    assert h.injector.events == []
    assert journal.no_fault is True
    assert [f.injected for f in journal.faults] == [False, False]
    assert journal.rolled_back == []
    assert journal.status == "failed"


def _journal(statuses: Mapping[str, str]) -> Journal:
    journal = Journal(scenario="virtual", run_id="r", started_at=VirtualClock().now())
    journal.expectations = [
        Verdict.model_validate(
            {"id": i, "kind": "metric", "description": i, "status": s, "passed": s == "passed"}
        )
        for i, s in statuses.items()
    ]
    return journal


@pytest.mark.parametrize(
    ("fault", "control", "absent", "expected"),
    [
        ("passed", "failed", False, "proven"),
        ("passed", "passed", False, "vacuous"),
        ("failed", "failed", False, "missed"),
        ("failed", "passed", False, "missed"),
        ("passed", "passed", True, "held"),
        ("failed", "passed", True, "broken"),
        ("passed", "failed", True, "broken"),
        ("error", "failed", False, "error"),
        ("passed", "error", True, "error"),
    ],
)
def test_control_judgements(fault: str, control: str, absent: bool, expected: str) -> None:
    text = SCENARIO.replace(
        "window: {fault: first}}", "window: {fault: first}" + (", absent: true}" if absent else "}")
    )
    scn = scenario(text)
    judged = judge(scn, _journal({"seen": fault, "quiet": "passed"}), _journal({"seen": control}))
    assert judged[0].judgement == expected


def test_exit_code_with_a_control_needs_every_detection_proven() -> None:
    scn = scenario()
    fault_run = _journal({"seen": "passed", "quiet": "passed"})
    fault_run.status = "passed"
    control_good = _journal({"seen": "failed", "quiet": "passed"})
    control_vacuous = _journal({"seen": "passed", "quiet": "passed"})
    from scenarios.journal import ControlReport

    for control, code in ((control_good, 0), (control_vacuous, 1)):
        control.status = "failed"
        fault_run.control = ControlReport(
            run_id="c", status=control.status, journal="", judgements=judge(scn, fault_run, control)
        )
        assert exit_code(fault_run) == code
    fault_run.control = ControlReport(run_id="c", status="error", journal="", judgements=[])
    assert exit_code(fault_run) == 3
