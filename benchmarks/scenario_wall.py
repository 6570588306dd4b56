"""Wall time of each catalog scenario and the time-to-detect of each of its signals.

    uv run python -m benchmarks.scenario_wall [NAME ...]

For every alert expectation it also checks the detection delay against its
budget: once the rule's expression is true, the alert should reach the
webhook within scrape interval (1 s) + evaluation interval (1 s) + the rule's
``for`` + 2 s. The moment the expression first held is read back from
Prometheus (a range query over the run, step 1 s) before the stack goes down.
Targets: a scenario including stack start and teardown in <= 90 s.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from assertions import PrometheusClient
from scenarios.console import Console
from scenarios.journal import Journal
from scenarios.loader import catalog, load
from scenarios.runner import Runner
from stack.local import down
from stack.state import read_state

SCRAPE_S = 1.0
EVALUATE_S = 1.0
SLACK_S = 2.0


@dataclass(frozen=True)
class AlertDelay:
    alert: str
    crossed_at: datetime | None
    detected_at: datetime | None
    budget_s: float

    @property
    def delay_s(self) -> float | None:
        if self.crossed_at is None or self.detected_at is None:
            return None
        return (self.detected_at - self.crossed_at).total_seconds()


def alert_delays(journal: Journal, state_dir: Path, alerts: dict[str, str]) -> list[AlertDelay]:
    state = read_state(state_dir)
    if state is None:
        return []
    prometheus = PrometheusClient(state.endpoints.prometheus_url)
    end = journal.finished_at or journal.started_at
    delays = []
    for exp_id, alert in alerts.items():
        verdict = next(v for v in journal.expectations if v.id == exp_id)
        rule = prometheus.alerting_rule(alert)
        if rule is None:
            continue
        series = prometheus.query_range(rule.query, journal.started_at, end, 1.0)
        times = [point.at for point in series.points()]
        crossed = min(times) if times else None
        budget = SCRAPE_S + EVALUATE_S + rule.duration_s + SLACK_S
        delays.append(AlertDelay(alert, crossed, verdict.detected_at, budget))
    return delays


def main(names: list[str]) -> int:
    chosen = names or list(catalog())
    scratch = Path(tempfile.mkdtemp(prefix="chaoslab-wall-"))
    rows: list[tuple[str, float, str, Journal, list[AlertDelay]]] = []
    try:
        for name in chosen:
            scenario = load(catalog()[name])
            state_dir = scratch / name / ".chaoslab"
            print(f"running {name}...", flush=True)
            started = time.monotonic()
            runner = Runner(
                scenario,
                out_dir=scratch / name / "out",
                state_dir=state_dir,
                keep_stack=True,
                console=Console(quiet=True),
            )
            journal = runner.run()
            alerts = {
                e.id: e.alert for e in scenario.expectations if e.kind == "alert" and not e.absent
            }
            delays = alert_delays(journal, state_dir, alerts)
            down(state_dir, quiet=True)
            wall = time.monotonic() - started
            rows.append((name, wall, journal.status, journal, delays))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\n{'scenario':<20} {'status':<8} {'wall s':>7}  time to detect per signal")
    for name, wall, status, journal, _delays in rows:
        detections = ", ".join(
            f"{v.id} {v.time_to_detect_s:.1f}s"
            for v in journal.expectations
            if v.time_to_detect_s is not None
        )
        print(f"{name:<20} {status:<8} {wall:>7.1f}  {detections}")
    print(f"\n{'scenario/alert':<44} {'crossed->notified':>18} {'budget':>8}")
    for name, _wall, _status, _journal, delays in rows:
        for delay in delays:
            shown = f"{delay.delay_s:.1f}s" if delay.delay_s is not None else "n/a"
            verdict = (
                ""
                if delay.delay_s is None
                else ("within" if delay.delay_s <= delay.budget_s else "OVER")
            )
            label = f"{name}/{delay.alert}"
            print(f"{label:<44} {shown:>18} {delay.budget_s:>7.1f}s {verdict}")
    slowest = max((wall for _n, wall, *_ in rows), default=0.0)
    print(f"\nslowest scenario {slowest:.1f} s (target <= 90 s including stack start and teardown)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
