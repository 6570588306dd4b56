"""The live console view of a run, and the verdict table at the end."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from assertions.engine import Verdict
from scenarios.journal import ControlReport
from stack.state import ComponentState

MARKS = {"passed": "PASS", "failed": "FAIL", "error": "ERR ", "pending": "....."}


@dataclass(frozen=True)
class LiveFigures:
    rps: float = 0.0
    p95_ms: float = 0.0
    error_rate: float = 0.0


class Console:
    """Prints progress lines; quiet=True prints only the verdict table."""

    def __init__(self, out: TextIO | None = None, quiet: bool = False, every_s: float = 5.0):
        self.out = out or sys.stdout
        self.quiet = quiet
        self.every_s = every_s
        self._last_tick = 0.0
        self._closed = False

    def say(self, text: str) -> None:
        if not self.quiet:
            self._print(text)

    def _print(self, text: str = "") -> None:
        """Write a line; a reader that went away (``| head``) silences the console, no more."""
        if self._closed:
            return
        try:
            print(text, file=self.out, flush=True)
        except BrokenPipeError:
            self._closed = True

    def header(
        self, name: str, title: str, run_id: str, no_fault: bool, duration: float, seed: int
    ) -> None:
        control = " (control run: no fault injected)" if no_fault else ""
        self.say(f"== {name}: {title}{control}")
        self.say(f"   run {run_id}, seed {seed}, load for {duration:g} s")

    def component(self, name: str, record: ComponentState, seconds: float) -> None:
        self.say(f"   up  {name:<13} {record.url:<48} {seconds:5.2f} s")

    def fault(self, elapsed: float, action: str, fault_id: str, detail: str) -> None:
        self.say(f"[{elapsed:6.1f}s] {action:<5} fault {fault_id}: {detail}")

    def tick(
        self,
        elapsed: float,
        phase: str,
        live: LiveFigures,
        active: Sequence[str],
        met: int,
        total: int,
    ) -> None:
        now = time.monotonic()
        if now - self._last_tick < self.every_s:
            return
        self._last_tick = now
        faults = ", ".join(active) or "none"
        self.say(
            f"[{elapsed:6.1f}s] {phase:<8} rps {live.rps:6.1f}  p95 {live.p95_ms:7.1f} ms  "
            f"errors {live.error_rate * 100:5.1f}%  faults: {faults}  met {met}/{total}"
        )

    def settled(self, elapsed: float, verdict: Verdict) -> None:
        ttd = (
            f" in {verdict.time_to_detect_s:.1f} s" if verdict.time_to_detect_s is not None else ""
        )
        self.say(f"[{elapsed:6.1f}s] {MARKS[verdict.status]} {verdict.id}{ttd}: {verdict.observed}")

    def verdicts(self, status: str, verdicts: Sequence[Verdict], wall_s: float) -> None:
        rows = [("", "expectation", "kind", "detect", "observed")]
        for v in verdicts:
            ttd = f"{v.time_to_detect_s:.1f}s" if v.time_to_detect_s is not None else "-"
            rows.append((MARKS[v.status], v.id, v.kind, ttd, v.observed[:70]))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        self._print()
        for row in rows:
            cells = [row[i].ljust(widths[i]) for i in range(4)]
            self._print("  ".join([*cells, row[4]]).rstrip())
        for v in verdicts:
            if v.status in ("failed", "error") and v.message:
                self._print(f"\n{v.message}")
        self._print(f"\nrun {status.upper()} in {wall_s:.1f} s")

    def judgements(self, report: ControlReport) -> None:
        """The control comparison: each expectation proven, vacuous, missed, held or broken."""
        self._print(f"\ncontrol run {report.run_id}: {report.status}")
        for j in report.judgements:
            mark = "ok  " if j.good else "FAIL"
            self._print(
                f"  {mark} {j.id:<28} {j.kind:<7} with fault {j.fault_status:<7} "
                f"without {j.control_status:<7} -> {j.judgement.upper()}"
            )
        self._print("")
