"""Distributed load: a Locust master on 127.0.0.1 and its workers, real processes.

The target is a small loopback HTTP server counting what it was sent; the
users come from a request mix, so no database is needed. Every worker writes
its own request log (``requests-w<i>-<pid>.csv``), and the lab merges them.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scenarios.load import LoadRun, parse_request_lines
from scenarios.loadmodel import LoadSpec
from stack.process import process_start_time

pytestmark = pytest.mark.integration

MIX = json.dumps(
    {
        "requests": [{"name": "GET /ping/{n}", "method": "GET", "path": "/ping/{n}"}],
        "vars": {"n": [1, 9]},
    }
)


class Counting(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.by_run: dict[str, int] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Counting

    def do_GET(self) -> None:
        run = self.headers.get("X-Chaoslab-Run") or ""
        with self.server.lock:
            self.server.by_run[run] = self.server.by_run.get(run, 0) + 1
        body = b"pong"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture(scope="module")
def server() -> Iterator[Counting]:
    httpd = Counting()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def spec(run_id: str, **fields: object) -> LoadSpec:
    return LoadSpec.model_validate(
        {
            "run_id": run_id,
            "users": 4,
            "spawn_rate": 4,
            "seed": 11,
            "wait_min_s": 0.05,
            "wait_max_s": 0.1,
            "request_mix": MIX,
            "user_classes": ("RequestMixUser",),
            **fields,
        }
    )


def logged_by_worker(directory: Path) -> dict[str, int]:
    """Requests per worker name, from each worker's own request log."""
    counts: dict[str, int] = {}
    for path in directory.glob("requests-*.csv"):
        worker = path.stem.split("-")[1]
        with path.open(encoding="utf-8") as lines:
            counts[worker] = counts.get(worker, 0) + sum(1 for _ in parse_request_lines(lines))
    return counts


def alive(pid: int, start_time: int | None) -> bool:
    """The very process is still there (not a later one given the same PID)."""
    return Path(f"/proc/{pid}").exists() and process_start_time(pid) == start_time


def test_two_workers_share_the_load_and_merge_into_one_log(
    server: Counting, tmp_path: Path
) -> None:
    load = spec("it-workers-2", duration_s=6, workers=2)
    out = tmp_path / "load"
    run = LoadRun(load, server.url, out)
    run.start()
    names = [name for name, _, _ in run.processes()]
    assert names == ["locust-master", "locust-worker-0", "locust-worker-1"]
    outcome = run.wait()

    assert outcome.exit_code == 0
    assert not outcome.timed_out
    assert not run.running()
    per_worker = logged_by_worker(out)
    assert set(per_worker) == {"w0", "w1"}  # one log each, none from the master
    assert all(count > 0 for count in per_worker.values())
    figures = run.figures()
    assert figures.requests == sum(per_worker.values())
    assert figures.failures == 0
    # Locust's own stats count exactly the same requests: the workers' reports, summed by
    # the master, whose quit waits for each worker's final report (users stopped mid-request
    # fire no request event, so neither side counts them)
    locust_requests, locust_failures = run.locust_totals()
    assert locust_failures == 0
    assert locust_requests == figures.requests
    # and the server saw them all, each with the run's header
    assert figures.requests <= server.by_run["it-workers-2"] <= figures.requests + load.users
    # the windows of the merged log add up to the whole run
    report = run.report([(run.records()[0].finished + 1, run.records()[0].finished + 2)])
    windows = report.windows
    assert windows.before.requests + windows.during.requests + windows.after.requests == (
        figures.requests
    )
    assert all(alive(pid, start) is False for _, pid, start in run.processes())


def test_a_dead_worker_fails_liveness_and_stop_leaves_nothing_alive(
    server: Counting, tmp_path: Path
) -> None:
    load = spec("it-workers-stop", duration_s=300, workers=2)
    run = LoadRun(load, server.url, tmp_path / "load")
    with run:
        deadline = time.monotonic() + 40
        while len(logged_by_worker(run.out_dir)) < 2 or run.live().requests == 0:
            assert time.monotonic() < deadline, run.log_tail()
            time.sleep(0.2)
        assert run.running()
        processes = run.processes()
        assert len(processes) == 3
        assert all(alive(pid, start) for _, pid, start in processes)
        _, worker_pid, _ = processes[2]
        os.kill(worker_pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while run.running():
            assert time.monotonic() < deadline, "a dead worker must make running() False"
            time.sleep(0.1)
        outcome = run.stop()
    assert outcome is not None
    assert outcome.stopped
    for name, pid, start in processes:
        assert not alive(pid, start), f"{name} (pid {pid}) outlived stop()"
    assert run.figures().requests > 0


def test_an_extra_worker_started_by_hand_joins_the_master(server: Counting, tmp_path: Path) -> None:
    load = spec("it-workers-extra", duration_s=6, workers=1, expect_workers=1)
    out = tmp_path / "load"
    run = LoadRun(load, server.url, out)
    run.start()
    commands = (out / "worker-commands.sh").read_text().splitlines()
    assert commands[-1] == run.worker_command(1)
    extra = subprocess.Popen(
        shlex.split(commands[-1]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        outcome = run.wait()
        assert extra.wait(timeout=15) == 0  # the master told it to quit
    finally:
        if extra.poll() is None:
            extra.kill()
            extra.wait()
    assert outcome.exit_code == 0
    assert not outcome.timed_out
    per_worker = logged_by_worker(out)
    assert set(per_worker) == {"w0", "w1"}
    assert all(count > 0 for count in per_worker.values())
    assert abs(run.locust_totals()[0] - run.figures().requests) <= load.users
