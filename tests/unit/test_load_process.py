"""LoadRun's process handling, with stand-in commands instead of Locust."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from scenarios.load import LoadFailed, LoadRun
from scenarios.loadmodel import LoadSpec

SPEC = LoadSpec(run_id="unit-process", duration_s=0.5)


def fake_python(tmp_path: Path, body: str) -> str:
    """A stand-in for ``python``: ignores ``-m locust ...`` and runs ``body``."""
    path = tmp_path / "fake-python"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_hard_deadline_stops_a_run_that_does_not_end(tmp_path: Path) -> None:
    python = fake_python(tmp_path, "exec sleep 600")
    run = LoadRun(SPEC, "http://127.0.0.1:9", tmp_path / "out", python=python, margin_s=0.5)
    started = time.monotonic()
    run.start()
    outcome = run.wait()
    assert outcome.timed_out
    assert outcome.stopped
    assert not run.running()
    assert time.monotonic() - started < 30  # the deadline (1 s) plus the stop grace, not 600 s


def test_a_crashing_locust_is_an_error_with_its_output(tmp_path: Path) -> None:
    python = fake_python(tmp_path, "echo 'ImportError: no locustfile here' >&2; exit 3")
    run = LoadRun(SPEC, "http://127.0.0.1:9", tmp_path / "out", python=python)
    run.start()
    with pytest.raises(LoadFailed, match="code 3") as failure:
        run.wait()
    assert "no locustfile here" in str(failure.value)


def test_stop_terminates_its_own_process_once(tmp_path: Path) -> None:
    marker, ready = tmp_path / "got-term", tmp_path / "ready"
    script = f"trap 'echo $$ > {marker}; exit 0' TERM\ntouch {ready}\nwhile :; do sleep 0.05; done"
    long_run = SPEC.model_copy(update={"duration_s": 600})
    run = LoadRun(long_run, "http://x", tmp_path / "out", python=fake_python(tmp_path, script))
    run.start()
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline:  # the trap is set before this
        time.sleep(0.02)
    assert run.running()
    outcome = run.stop()
    assert outcome is not None
    assert outcome.stopped
    assert not outcome.timed_out
    assert outcome.exit_code == 0
    assert run.master is not None
    assert marker.read_text().strip() == str(run.master.pid)
    assert run.stop() == outcome
    assert run.wait() == outcome


def test_an_earlier_runs_request_logs_do_not_count(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "requests-1.csv").write_text("ts,method,name,response_time_ms,ok,status,error\n")
    run = LoadRun(SPEC, "http://127.0.0.1:9", out, python=fake_python(tmp_path, "exit 0"))
    run.start()
    assert run.wait().exit_code == 0
    assert list(out.glob("requests-*.csv")) == []
    assert run.figures().requests == 0


def test_stop_before_start_is_harmless(tmp_path: Path) -> None:
    run = LoadRun(SPEC, "http://127.0.0.1:9", tmp_path / "out")
    assert run.stop() is None
    with pytest.raises(RuntimeError):
        run.poll()


def test_distributed_master_binds_loopback_only(tmp_path: Path) -> None:
    run = LoadRun(SPEC.model_copy(update={"workers": 2}), "http://t", tmp_path / "out")
    master = run.argv()
    assert "--master" in master
    assert "--master-bind-host=127.0.0.1" in master
    assert f"--master-bind-port={run.master_port}" in master
    assert master[master.index("--expect-workers") + 1] == "2"
    assert "--headless" in master
    worker = run.worker_argv(0)
    assert "--worker" in worker
    assert "--master-host=127.0.0.1" in worker
    assert f"--master-port={run.master_port}" in worker
    standalone = LoadRun(SPEC, "http://t", tmp_path / "out").argv()
    assert not any(arg.startswith("--master") for arg in standalone)
    assert standalone[-1] == "DocumentUser"


def test_child_environment_is_the_spec_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSLAB_STRAY", "from-the-parent")
    monkeypatch.setenv("CHAOSLAB_SEED", "999")
    env = LoadRun(SPEC.model_copy(update={"seed": 5}), "http://t", tmp_path / "out").environment()
    assert "CHAOSLAB_STRAY" not in env
    assert env["CHAOSLAB_SEED"] == "5"
    assert env["CHAOSLAB_RUN_ID"] == "unit-process"
    assert env["CHAOSLAB_REQUEST_LOG_DIR"] == str((tmp_path / "out").resolve())
    assert env["PATH"] == os.environ["PATH"]
