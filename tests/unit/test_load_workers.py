"""Distributed load settings: the scenario's ``load.workers``, the CLI flag, the command lines."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from scenarios.cli import main
from scenarios.load import LoadRun
from scenarios.loadmodel import LoadSpec

SCENARIO = """\
name: spread
title: Spread
load:
  users: 4
  workers: {workers}
  duration: 30s
expectations:
  - id: up
    kind: metric
    query: up
    threshold: 0
"""
SPEC = LoadSpec(run_id="r1", duration_s=30, users=4, seed=7)


def test_a_scenario_with_two_workers_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spread.yaml"
    path.write_text(SCENARIO.format(workers=2))
    assert main(["validate", str(path)]) == 0
    capsys.readouterr()


def test_negative_workers_are_refused_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spread.yaml"
    path.write_text(SCENARIO.format(workers=-1))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr()
    assert f"{path}:5: load.workers:" in err.out + err.err


def test_the_run_flag_refuses_a_negative_worker_count(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "pool-exhaustion", "--load-workers", "-1"])
    assert exited.value.code == 2
    assert "--load-workers" in capsys.readouterr().err


def test_zero_workers_is_one_standalone_process(tmp_path: Path) -> None:
    run = LoadRun(SPEC, "http://t", tmp_path / "out")
    assert not SPEC.distributed
    assert run.master_port is None
    assert not any(arg.startswith("--master") or arg == "--worker" for arg in run.argv())


def test_the_master_waits_for_local_and_extra_workers(tmp_path: Path) -> None:
    spec = SPEC.model_copy(update={"workers": 2, "expect_workers": 1})
    run = LoadRun(spec, "http://t", tmp_path / "out")
    master = run.argv()
    assert "--master-bind-host=127.0.0.1" in master
    assert master[master.index("--expect-workers") + 1] == "3"
    assert "--expect-workers-max-wait" in master
    # only the extra workers: a master with none of its own still waits for them
    remote_only = LoadRun(SPEC.model_copy(update={"expect_workers": 1}), "http://t", tmp_path)
    assert remote_only.spec.distributed
    assert remote_only.argv()[remote_only.argv().index("--expect-workers") + 1] == "1"


def test_each_worker_has_its_own_reproducible_seed(tmp_path: Path) -> None:
    spec = SPEC.model_copy(update={"workers": 3})
    seeds = [spec.worker_seed(i) for i in range(3)]
    assert len(set(seeds)) == 3
    assert seeds == [spec.model_copy().worker_seed(i) for i in range(3)]
    other = spec.model_copy(update={"seed": 8})
    assert not set(seeds) & {other.worker_seed(i) for i in range(3)}
    run = LoadRun(spec, "http://t", tmp_path / "out")
    env = run.worker_environment(1)
    assert env["CHAOSLAB_WORKER"] == "w1"
    assert env["CHAOSLAB_SEED"] == str(seeds[1])
    assert run.environment()["CHAOSLAB_SEED"] == "7"  # the master keeps the run's seed


def test_the_extra_worker_command_line(tmp_path: Path) -> None:
    spec = SPEC.model_copy(update={"workers": 1, "expect_workers": 1})
    run = LoadRun(spec, "http://t", tmp_path / "out")
    words = shlex.split(run.worker_command(1))
    assert words[0] == "env"
    assert "CHAOSLAB_WORKER=w1" in words
    assert f"CHAOSLAB_SEED={spec.worker_seed(1)}" in words
    assert "CHAOSLAB_RUN_ID=r1" in words
    assert "--worker" in words
    assert f"--master-port={run.master_port}" in words
