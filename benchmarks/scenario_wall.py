"""Wall time of each catalog scenario on a fresh stack and on an attached one, side by side.

    uv run python -m benchmarks.scenario_wall [--control] [--attached-only] [NAME ...]

* **fresh**: each scenario starts its own stack and stops it (what a run costs
  with nothing running; stack start and teardown included);
* **attached**: ``chaoslab up`` once, then every scenario runs on that stack
  (what CI and a facilitator pay); with ``--control`` each run is followed by
  its control run, as ``make test`` does.

Targets: on an attached stack a scenario costs at most its load duration +
grace + 3 s of overhead (the stack start is paid once, by ``up``); the whole
catalog with ``--control`` on one attached stack in under 20 minutes.

It also checks each alert's detection delay against its budget: once the
rule's expression is true, the alert should reach the webhook within scrape
interval (1 s) + evaluation interval (1 s) + the rule's ``for`` + 2 s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
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
from scenarios.model import Scenario
from scenarios.session import Mode, execute
from stack.state import read_state

SCRAPE_S = 1.0
EVALUATE_S = 1.0
SLACK_S = 2.0
OVERHEAD_TARGET_S = 3.0
CLI = [sys.executable, "-m", "scenarios.cli"]


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


@dataclass
class Row:
    name: str
    scenario: Scenario
    fresh_s: float | None = None
    attached_s: float | None = None
    status: str = ""
    journal: Journal | None = None
    delays: tuple[AlertDelay, ...] = ()


def alert_delays(journal: Journal, prometheus_url: str, scenario: Scenario) -> list[AlertDelay]:
    prometheus = PrometheusClient(prometheus_url)
    end = journal.finished_at or journal.started_at
    delays = []
    for exp in scenario.expectations:
        if exp.kind != "alert" or exp.absent:
            continue
        verdict = next(v for v in journal.expectations if v.id == exp.id)
        rule = prometheus.alerting_rule(exp.alert)
        if rule is None:
            continue
        series = prometheus.query_range(rule.query, journal.started_at, end, 1.0)
        times = [point.at for point in series.points()]
        budget = SCRAPE_S + EVALUATE_S + rule.duration_s + SLACK_S
        delays.append(AlertDelay(exp.alert, min(times, default=None), verdict.detected_at, budget))
    return delays


def run_one(scenario: Scenario, state_dir: Path, out: Path, mode: Mode) -> tuple[Journal, float]:
    started = time.monotonic()
    journal = execute(
        scenario,
        source=None,
        out_dir=out,
        state_dir=state_dir,
        mode=mode,
        console=Console(quiet=True),
    )
    return journal, time.monotonic() - started


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--control", action="store_true", help="attached runs with --control")
    parser.add_argument("--attached-only", action="store_true", help="skip the fresh-stack mode")
    parser.add_argument(
        "--fresh",
        nargs="*",
        default=None,
        metavar="NAME",
        help="only these scenarios in the fresh-stack mode (default: all chosen)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the attached runs' directories here (for `chaoslab matrix --from`)",
    )
    args = parser.parse_args(argv)
    chosen = args.names or list(catalog())
    rows = [Row(name, load(catalog()[name])) for name in chosen]
    scratch = Path(tempfile.mkdtemp(prefix="chaoslab-wall-"))
    attached_dir = scratch / "up" / ".chaoslab"
    try:
        if not args.attached_only:
            for row in rows:
                if args.fresh and row.name not in args.fresh:
                    continue
                print(f"fresh    {row.name}...", flush=True)
                _journal, row.fresh_s = run_one(
                    row.scenario,
                    scratch / row.name / ".chaoslab",
                    scratch / row.name / "f",
                    "fault",
                )
        print("chaoslab up...", flush=True)
        up_started = time.monotonic()
        subprocess.run([*CLI, "--state-dir", str(attached_dir), "up"], check=True)
        up_s = time.monotonic() - up_started
        state = read_state(attached_dir)
        catalog_started = time.monotonic()
        for row in rows:
            print(f"attached {row.name}...", flush=True)
            mode: Mode = "control" if args.control else "fault"
            kept = (args.keep / row.name) if args.keep else scratch / row.name / "a"
            journal, row.attached_s = run_one(row.scenario, attached_dir, kept, mode)
            row.journal, row.status = journal, journal.status
            if journal.control is not None:
                row.status += "/" + ("proven" if journal.control.all_good else "NOT proven")
            if state is not None:
                row.delays = tuple(
                    alert_delays(journal, state.endpoints.prometheus_url, row.scenario)
                )
        catalog_s = time.monotonic() - catalog_started
    finally:
        subprocess.run([*CLI, "--state-dir", str(attached_dir), "down"], check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    report(rows, up_s, catalog_s, args.control)
    return 0


def report(rows: list[Row], up_s: float, catalog_s: float, control: bool) -> None:
    what = "attached (+control)" if control else "attached"
    print(
        f"\n{'scenario':<20} {'status':<16} {'fresh s':>8} {what + ' s':>22} "
        f"{'per run s':>10} {'load+grace+3':>13}"
    )
    for row in rows:
        budget = row.scenario.load.duration + row.scenario.grace + OVERHEAD_TARGET_S
        fresh = f"{row.fresh_s:.1f}" if row.fresh_s is not None else "-"
        attached = f"{row.attached_s:.1f}" if row.attached_s is not None else "-"
        per_run = (row.attached_s or 0.0) / (2 if control else 1)
        verdict = "within" if per_run <= budget else "OVER"
        print(
            f"{row.name:<20} {row.status:<16} {fresh:>8} {attached:>22} {per_run:>10.1f} "
            f"{budget:>13.1f} {verdict}"
        )
    print(
        f"\nchaoslab up: {up_s:.1f} s; the catalog on the attached stack: {catalog_s / 60:.1f} min"
    )
    print("\ntime to detect per signal (attached):")
    for row in rows:
        if row.journal is None:
            continue
        detections = ", ".join(
            f"{v.id} {v.time_to_detect_s:.1f}s"
            for v in row.journal.expectations
            if v.time_to_detect_s is not None
        )
        print(f"  {row.name:<20} {detections}")
    print(f"\n{'scenario/alert':<44} {'crossed->notified':>18} {'budget':>8}")
    for row in rows:
        for delay in row.delays:
            shown = f"{delay.delay_s:.1f}s" if delay.delay_s is not None else "n/a"
            verdict = (
                ""
                if delay.delay_s is None
                else ("within" if delay.delay_s <= delay.budget_s else "OVER")
            )
            label = f"{row.name}/{delay.alert}"
            print(f"{label:<44} {shown:>18} {delay.budget_s:>7.1f}s {verdict}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
