"""Run Locust as a child process and read back what it measured.

The lab never imports Locust (it monkey-patches the interpreter with
gevent): :class:`LoadRun` spawns ``python -m locust -f loadtests/locustfile.py
--headless`` (or a master bound to 127.0.0.1 plus N workers), passes the
:class:`~scenarios.loadmodel.LoadSpec` as ``CHAOSLAB_*`` variables, and reads
the files it writes in ``out_dir``:

``requests-<pid>.csv``         one line per request (``loadtests/requestlog.py``),
                               the source of every :class:`LoadFigures`;
                               ``requests-w<i>-<pid>.csv`` from worker ``i``
                               (every one is read, merged by finish time)
``locust_stats_history.csv``   per-second Aggregated rows -> :meth:`LoadRun.timeline`
``locust.json``                Locust's final per-endpoint stats -> :meth:`LoadRun.locust_totals`
``locust.log``, ``*.out``      Locust's log and the processes' output
                               (``locust-worker-<i>.log`` a worker's log)

Distributed (``spec.workers`` + ``spec.expect_workers`` > 0): a master bound
to 127.0.0.1 on a free port with ``--expect-workers`` set to both, so the load
starts once every worker joined (or Locust gives up after
:data:`EXPECT_WORKERS_MAX_WAIT_S`); the lab starts ``spec.workers`` of them,
each named ``w<i>`` (``CHAOSLAB_WORKER``) with its own derived seed
(:meth:`LoadSpec.worker_seed`). :meth:`LoadRun.worker_command` is the command
line of the others, written to ``worker-commands.sh`` in ``out_dir``.

The load shape ends the run by itself (``--run-time`` is not passed: Locust
ignores it when a shape class is present); a hard wall-clock deadline of
``duration_s`` plus a margin stops the processes by their own PIDs if it does
not. Stopping sends SIGTERM to our own PIDs (the locustfile turns it into a
graceful quit, so the summary files are still written), then SIGKILL after a
grace period. ``LoadFailed`` is an infrastructure error (Locust could not run), never a
finding about the target.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from scenarios.exceptions import LoadFailed
from scenarios.loadmodel import (
    EPSILON_S,
    HistoryPoint,
    Interval,
    LiveFigures,
    LoadFigures,
    LoadOutcome,
    LoadReport,
    LoadSpec,
    RequestRecord,
    percentile,
    run_span,
    split_windows,
    window_figures,
)
from stack.ports import LOOPBACK, free_port
from stack.process import ManagedProcess, tail

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"
"""The lab's hooks; the user file comes after it on Locust's ``-f``."""
USERS_FILE = REPO_ROOT / "loadtests" / "users.py"
MIX_FILE = REPO_ROOT / "loadtests" / "mix.py"
REQUEST_LOG_GLOB = "requests-*.csv"
EXPECT_WORKERS_MAX_WAIT_S = 30
WORKER_QUIT_S = 5.0
WORKER_COMMANDS = "worker-commands.sh"
"""How long the master waits for its workers; below the runner's first-request grace."""
LIVE_HORIZON_S = 120.0


__all__ = [
    "DEFAULT_LOCUSTFILE",
    "LoadFailed",
    "LoadRun",
    "RequestLogTail",
    "parse_request_lines",
    "read_history",
    "read_request_log",
]


def parse_request_lines(lines: Iterable[str]) -> Iterator[RequestRecord]:
    """Records of request-log lines; the header and malformed lines are skipped."""
    for line in lines:
        fields = line.rstrip("\n").split(",")
        if len(fields) != 7 or fields[0] == "ts":
            continue
        try:
            yield RequestRecord(
                started=float(fields[0]),
                method=fields[1],
                name=fields[2],
                response_time_ms=float(fields[3]),
                ok=fields[4] == "1",
                status=int(fields[5]),
                error=fields[6],
            )
        except ValueError:
            continue


def read_request_log(directory: Path) -> list[RequestRecord]:
    """Every request logged in ``directory`` (all workers), ordered by finish time."""
    records: list[RequestRecord] = []
    for path in sorted(directory.glob(REQUEST_LOG_GLOB)):
        with path.open(encoding="utf-8") as lines:
            records.extend(parse_request_lines(lines))
    records.sort(key=lambda record: record.finished)
    return records


def _number(text: str) -> float | None:
    return None if text in ("", "N/A") else float(text)


def read_history(path: Path) -> list[HistoryPoint]:
    """The Aggregated rows of Locust's ``_stats_history.csv``, one per second."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    points: list[HistoryPoint] = []
    for row in csv.DictReader(text.splitlines()):
        if row.get("Name") != "Aggregated":
            continue
        points.append(
            HistoryPoint(
                ts=float(row["Timestamp"]),
                users=int(row["User Count"]),
                rps=float(row["Requests/s"]),
                failures_per_s=float(row["Failures/s"]),
                p50_ms=_number(row["50%"]),
                p95_ms=_number(row["95%"]),
                p99_ms=_number(row["99%"]),
                total_requests=int(row["Total Request Count"]),
                total_failures=int(row["Total Failure Count"]),
            )
        )
    return points


class RequestLogTail:
    """Reads the request logs incrementally while Locust writes them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.records: list[RequestRecord] = []
        self.recent: deque[RequestRecord] = deque()
        self.first_started: float | None = None
        self.last_finished: float | None = None
        self._offsets: dict[Path, int] = {}

    def poll(self) -> int:
        """Read whatever complete lines were appended since the last poll; returns how many."""
        fresh: list[RequestRecord] = []
        for path in sorted(self.directory.glob(REQUEST_LOG_GLOB)):
            offset = self._offsets.get(path, 0)
            with path.open("rb") as stream:
                stream.seek(offset)
                chunk = stream.read()
            complete = chunk.rfind(b"\n") + 1
            if complete == 0:
                continue
            self._offsets[path] = offset + complete
            fresh.extend(parse_request_lines(chunk[:complete].decode("utf-8").splitlines()))
        self.records.extend(fresh)
        if fresh:
            latest = max(record.finished for record in fresh)
            if self.last_finished is None or latest > self.last_finished:
                self.last_finished = latest
            earliest = min(record.started for record in fresh)
            if self.first_started is None or earliest < self.first_started:
                self.first_started = earliest
        self.recent.extend(sorted(fresh, key=lambda record: record.finished))
        horizon = self.recent[-1].finished - LIVE_HORIZON_S if self.recent else 0.0
        while self.recent and self.recent[0].finished < horizon:
            self.recent.popleft()
        return len(fresh)

    def live(self, window_s: float, now: float | None = None) -> LiveFigures:
        now = time.time() if now is None else now
        start = now - window_s
        kept = [r for r in self.recent if start <= r.finished <= now]
        if self.first_started is not None:  # early in the run: divide by the time load ran
            window_s = max(min(window_s, now - self.first_started), EPSILON_S)
        times = sorted(r.response_time_ms for r in kept)
        failures = sum(1 for r in kept if not r.ok)
        return LiveFigures(
            at=now,
            window_s=round(window_s, 3),
            requests=len(kept),
            rps=round(len(kept) / window_s, 3) if kept else 0.0,
            p95_ms=round(percentile(times, 95), 3),
            error_rate=round(failures / len(kept), 4) if kept else 0.0,
        )


class LoadRun:
    """One Locust run (standalone, or a master and ``spec.workers`` workers).

    ``base_dir`` is where a relative replay curve path is looked up (the
    scenario file's folder); without it, the current directory.
    """

    def __init__(
        self,
        spec: LoadSpec,
        target_url: str,
        out_dir: Path,
        *,
        locustfile: Path = DEFAULT_LOCUSTFILE,
        python: str = sys.executable,
        margin_s: float | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.spec = spec
        self.target_url = target_url
        self.out_dir = out_dir
        self.locustfile = locustfile
        self.python = python
        extra = 0.1 * spec.duration_s + (20.0 if spec.distributed else 0.0)
        self.margin_s = 20.0 + extra if margin_s is None else margin_s
        self.base_dir = base_dir
        self.master_port = free_port() if spec.distributed else None
        self.master: ManagedProcess | None = None
        self.workers: list[ManagedProcess] = []
        self.tail = RequestLogTail(out_dir)
        self.outcome: LoadOutcome | None = None
        self._started_at = 0.0
        self._deadline = 0.0
        self._stopped = False

    def environment(self) -> dict[str, str]:
        """The child's environment: ours without stray ``CHAOSLAB_*`` plus the spec's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAOSLAB_")}
        env.update(self.load_variables())
        return env

    def worker_environment(self, index: int) -> dict[str, str]:
        """Worker ``index``'s environment: its own name and derived seed."""
        return {**self.environment(), **self.worker_variables(index)}

    def worker_variables(self, index: int) -> dict[str, str]:
        """What sets worker ``index`` apart: ``CHAOSLAB_WORKER`` and its own seed."""
        return {
            "CHAOSLAB_WORKER": f"w{index}",
            "CHAOSLAB_SEED": str(self.spec.worker_seed(index)),
        }

    def load_variables(self) -> dict[str, str]:
        """The ``CHAOSLAB_*`` variables of the spec (``loadtests/config.py``)."""
        spec = self.spec
        env: dict[str, str] = {}
        env.update(
            PYTHONUNBUFFERED="1",
            CHAOSLAB_RUN_ID=spec.run_id,
            CHAOSLAB_SEED=str(spec.seed),
            CHAOSLAB_WAIT_MIN_S=str(spec.wait_min_s),
            CHAOSLAB_WAIT_MAX_S=str(spec.wait_max_s),
            CHAOSLAB_PACING_S=str(spec.pacing_s),
            CHAOSLAB_TASK_WEIGHTS=spec.weights.model_dump_json(),
            CHAOSLAB_OWNERS=str(spec.owners),
            CHAOSLAB_SHAPE=spec.shape.kind,
            CHAOSLAB_SHAPE_PARAMS=json.dumps(spec.shape_params(self.base_dir)),
            CHAOSLAB_DURATION_S=str(spec.duration_s),
            CHAOSLAB_MAX_REQUESTS=str(spec.max_requests),
            CHAOSLAB_REQUEST_LOG_DIR=str(self.out_dir.resolve()),
            CHAOSLAB_NETWORK_TIMEOUT_S=str(spec.network_timeout_s),
        )
        if spec.request_mix is not None:
            env["CHAOSLAB_REQUEST_MIX"] = spec.request_mix
        return env

    def files(self) -> str:
        """Locust's ``-f``: the lab's hooks, then the file with the user classes."""
        spec = self.spec
        if spec.request_mix is not None:
            users = MIX_FILE
        elif spec.user_file is not None:
            users = Path(spec.user_file)
        else:
            users = USERS_FILE
        return f"{self.locustfile},{users}"

    def argv(self) -> list[str]:
        """The standalone (or master) command line."""
        out = self.out_dir.resolve()
        argv = [self.python, "-m", "locust", "-f", self.files(), "--headless"]
        argv += ["--host", self.target_url, "--csv", str(out / "locust"), "--csv-full-history"]
        argv += ["--json-file", str(out / "locust"), "--only-summary"]
        argv += ["--html", str(out / "locust.html")]
        argv += ["--exit-code-on-error", "0", "--logfile", str(out / "locust.log")]
        if self.spec.distributed:
            expected = self.spec.workers + self.spec.expect_workers
            argv += ["--master", f"--master-bind-host={LOOPBACK}"]
            argv += [f"--master-bind-port={self.master_port}"]
            argv += ["--expect-workers", str(expected)]
            argv += ["--expect-workers-max-wait", str(EXPECT_WORKERS_MAX_WAIT_S)]
        return [*argv, *self.spec.user_classes]

    def worker_argv(self, index: int) -> list[str]:
        """The command line of worker ``index`` (its log is ``locust-worker-<index>.log``)."""
        out = self.out_dir.resolve()
        return [
            *(self.python, "-m", "locust", "-f", self.files(), "--worker"),
            *(f"--master-host={LOOPBACK}", f"--master-port={self.master_port}"),
            *("--host", self.target_url, "--logfile", str(out / f"locust-worker-{index}.log")),
            *self.spec.user_classes,
        ]

    def worker_command(self, index: int) -> str:
        """A shell line that starts one more worker (``expect_workers``) by hand.

        ``index`` should follow the lab's own (``spec.workers`` and up), so
        the name, seed and log file are this worker's alone.
        """
        variables = {**self.load_variables(), **self.worker_variables(index)}
        words = [f"{name}={value}" for name, value in variables.items()]
        words += self.worker_argv(index)
        return "env " + shlex.join(words)

    def write_worker_commands(self) -> Path | None:
        """With ``expect_workers``: ``out_dir/worker-commands.sh``, a line per extra worker."""
        path = self.out_dir / WORKER_COMMANDS
        path.unlink(missing_ok=True)
        if not self.spec.expect_workers:
            return None
        first = self.spec.workers
        lines = [self.worker_command(i) for i in range(first, first + self.spec.expect_workers)]
        path.write_text("\n".join(["#!/bin/sh", "# one line per extra worker", *lines, ""]))
        return path

    def start(self) -> None:
        """Spawn Locust (workers first, so the master finds them); returns at once.

        Request logs an earlier run left in ``out_dir`` are removed first, so
        the figures are this run's only.
        """
        if self.master is not None:
            raise RuntimeError("this load run was already started")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.out_dir.glob(REQUEST_LOG_GLOB):  # an earlier run's, same out dir
            stale.unlink()
        env = self.environment()
        self.write_worker_commands()
        self._started_at = time.time()
        self._deadline = time.monotonic() + self.spec.duration_s + self.margin_s
        for index in range(self.spec.workers):
            worker = ManagedProcess(
                f"locust-worker-{index}",
                self.worker_argv(index),
                self.out_dir / f"locust-worker-{index}.out",
                env={**env, **self.worker_variables(index)},
                cwd=REPO_ROOT,
            )
            self.workers.append(worker)
            worker.start()
        name = "locust-master" if self.spec.distributed else "locust"
        self.master = ManagedProcess(
            name, self.argv(), self.out_dir / f"{name}.out", env=env, cwd=REPO_ROOT
        )
        try:
            self.master.start()
        except BaseException:
            for worker in self.workers:
                worker.stop()
            raise

    def running(self) -> bool:
        """The master (or standalone process) and every worker the lab started are alive.

        A worker that died mid-run makes this False, as a dead master does:
        its share of the load is gone, so the run no longer runs its scenario.
        """
        if self.master is None or not self.master.running():
            return False
        return all(worker.running() for worker in self.workers)

    def processes(self) -> list[tuple[str, int, int | None]]:
        """``(name, pid, kernel start time)`` of every Locust process started."""
        procs = [p for p in [self.master, *self.workers] if p is not None and p.popen]
        return [(p.name, p.pid, p.start_time) for p in procs]

    def poll(self) -> LoadOutcome | None:
        """The outcome once Locust has exited (stopping it past the deadline), else None."""
        if self.outcome is not None:
            return self.outcome
        if self.master is None:
            raise RuntimeError("the load run was not started")
        if self.master.running():
            if time.monotonic() < self._deadline:
                return None
            return self._finish(timed_out=True)
        return self._finish(timed_out=False)

    def wait(self) -> LoadOutcome:
        """Block until Locust exits by itself, or the hard deadline stops it.

        Raises :class:`LoadFailed` when Locust exits with an error it was not
        asked for (bad configuration, crash), with the end of its log.
        """
        while (outcome := self.poll()) is None:
            time.sleep(0.1)
        if outcome.exit_code not in (0, None) and not outcome.stopped:
            raise LoadFailed(f"locust exited with code {outcome.exit_code}", self.log_tail())
        return outcome

    def stop(self) -> LoadOutcome | None:
        """SIGTERM our own Locust processes (then SIGKILL after a grace); idempotent."""
        if self.master is None:
            return None
        if self.outcome is None:
            self._stopped = self.master.running()
            return self._finish(timed_out=False)
        return self.outcome

    def _finish(self, *, timed_out: bool) -> LoadOutcome:
        if self.master is None or self.master.popen is None:
            raise RuntimeError("the load run was not started")
        stopped = self._stopped or timed_out
        if self.master.running():
            self.master.stop(grace=10.0)
        quit_by = time.monotonic() + WORKER_QUIT_S  # one allowance for them all
        for worker in self.workers:
            if worker.running() and worker.popen is not None:
                try:  # workers quit when the master tells them (it may have died instead)
                    worker.popen.wait(timeout=max(quit_by - time.monotonic(), 0.0))
                except subprocess.TimeoutExpired:
                    worker.stop()
        self.outcome = LoadOutcome(
            exit_code=self.master.popen.returncode,
            timed_out=timed_out,
            stopped=stopped,
            started_at=self._started_at,
            finished_at=time.time(),
        )
        self.tail.poll()
        return self.outcome

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(
            [tail(self.out_dir / "locust.log", lines)]
            + [tail(p.log_path, lines) for p in [*self.workers, self.master] if p is not None]
        )

    def records(self) -> list[RequestRecord]:
        """Every request logged so far, ordered by finish time."""
        self.tail.poll()
        return sorted(self.tail.records, key=lambda record: record.finished)

    def last_request_at(self) -> float | None:
        """Unix time the most recent logged request finished (None before the first)."""
        self.tail.poll()
        return self.tail.last_finished

    def live(self, window_s: float = 5.0) -> LiveFigures:
        """RPS, p95 and error rate of the requests finished in the last ``window_s`` seconds."""
        self.tail.poll()
        return self.tail.live(window_s)

    def window_stats(self, start_ts: float, end_ts: float) -> LoadFigures:
        """Figures of the requests that finished in ``[start_ts, end_ts)`` (Unix time)."""
        return window_figures(self.records(), start_ts, end_ts)

    def figures(self) -> LoadFigures:
        """Whole-run figures: from the first request sent to the last one finished."""
        records = self.records()
        return window_figures(records, *run_span(records))

    def report(self, faults: Sequence[Interval] = ()) -> LoadReport:
        """The journal's ``load`` object; ``faults`` are ``(started_at, ended_at)`` Unix times."""
        records = self.records()
        span = run_span(records)
        whole = window_figures(records, *span)
        return LoadReport(**whole.model_dump(), windows=split_windows(records, span, faults))

    def timeline(self) -> list[HistoryPoint]:
        return read_history(self.out_dir / "locust_stats_history.csv")

    def locust_totals(self) -> tuple[int, int]:
        """``(requests, failures)`` as Locust's own final JSON stats count them."""
        path = self.out_dir / "locust.json"
        entries = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        requests = sum(int(entry["num_requests"]) for entry in entries)
        return requests, sum(int(entry["num_failures"]) for entry in entries)

    def __enter__(self) -> LoadRun:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
