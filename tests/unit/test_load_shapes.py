"""Load shapes and users, exercised in a child interpreter.

Importing ``loadtests`` imports Locust, which monkey-patches the process with
gevent; so every check runs ``python -c`` in a subprocess and reads JSON back.
The environment each child gets is the one ``scenarios.load.LoadRun`` builds,
so these tests also pin the lab <-> loadtests contract.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scenarios.load import REPO_ROOT, LoadRun
from scenarios.loadmodel import LoadSpec, RampShape, ReplayShape, SpikeShape

CHILD = """
import itertools, json, sys
from locust.env import Environment
from loadtests.config import ConfigError, LoadConfig
from loadtests.shapes import ChaoslabShape
from loadtests.users import DocumentUser

DocumentUser.host = "http://127.0.0.1:9"
ENVIRONMENT = Environment(user_classes=[DocumentUser])


class FakeRunner:
    def __init__(self, requests):
        self.stats = type("Stats", (), {"total": type("Total", (), {"num_requests": requests})})


def shape_ticks(config, job):
    shape = ChaoslabShape(config)
    shape.runner = FakeRunner(job["requests_made"])
    result = []
    for t in job["times"]:
        shape.get_run_time = lambda t=t: t
        tick = shape.tick()
        result.append(None if tick is None else [tick[0], tick[1]])
    return result


def user_actions(config, job):
    DocumentUser.config = config
    DocumentUser._spawned = itertools.count()  # each job is a fresh process's first user
    user = DocumentUser(ENVIRONMENT)
    actions = []

    def record(name):
        def act():
            actions.append(name)
            user.ids.append(len(actions))
        return act

    for name in ("create", "get", "list", "reprocess"):
        setattr(user, name, record(name))
    for _ in range(job["draws"]):
        user.act()
    waits = [user.wait_time() for _ in range(50)]
    return {"actions": actions, "waits": waits, "headers": user.headers()}


for line in sys.stdin:
    job = json.loads(line)
    try:
        config = LoadConfig.from_env(job["env"])
        handler = shape_ticks if job["kind"] == "shape" else user_actions
        answer = {"ok": handler(config, job)}
    except ConfigError as exc:
        answer = {"error": str(exc)}
    print(json.dumps(answer), flush=True)
"""

Answer = dict[str, Any]


class Child:
    """One interpreter that imported ``loadtests`` (hence Locust), answering JSON jobs."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", CHILD],
            cwd=REPO_ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("CHAOSLAB_")},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def ask(self, job: dict[str, object]) -> Answer:
        process = self.process
        assert process.stdin is not None
        assert process.stdout is not None
        process.stdin.write(json.dumps(job) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 60)
        line = process.stdout.readline() if ready else ""
        if not line:
            process.kill()
            _, errors = process.communicate(timeout=10)
            pytest.fail(f"the loadtests child did not answer:\n{errors}")
        answer: Answer = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def child() -> Iterator[Child]:
    process = Child()
    yield process
    process.close()


def locust_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Real Locust pointed at the locustfile; expected to refuse to start."""
    argv = [sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--headless"]
    argv += ["--host", "http://127.0.0.1:9"]
    return subprocess.run(argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def locust_env(spec: LoadSpec, tmp_path: Path) -> dict[str, str]:
    return LoadRun(spec, "http://127.0.0.1:9", tmp_path / "out", base_dir=tmp_path).environment()


def ticks(
    child: Child, spec: LoadSpec, tmp_path: Path, times: list[float], requests_made: int = 0
) -> list[list[float] | None]:
    job = {"kind": "shape", "env": locust_env(spec, tmp_path), "times": times}
    answer = child.ask({**job, "requests_made": requests_made})
    assert "ok" in answer, answer
    result: list[list[float] | None] = answer["ok"]
    return result


def users_of(result: list[list[float] | None]) -> list[float | None]:
    return [None if tick is None else tick[0] for tick in result]


def spec(**fields: object) -> LoadSpec:
    return LoadSpec.model_validate({"run_id": "unit-shapes", "duration_s": 10, **fields})


def test_steady_holds_users_and_stops_at_the_end(child: Child, tmp_path: Path) -> None:
    result = ticks(child, spec(users=5, spawn_rate=2), tmp_path, [0, 4.5, 9.99, 10, 30])
    assert result == [[5, 2.0], [5, 2.0], [5, 2.0], None, None]


def test_ramp_is_linear_then_holds(child: Child, tmp_path: Path) -> None:
    ramp = spec(users=10, spawn_rate=5, shape=RampShape(from_users=2, ramp_s=4))
    result = ticks(child, ramp, tmp_path, [0, 1, 2, 4, 7, 10])
    assert users_of(result) == [2, 4, 6, 10, 10, None]


def test_ramp_down_over_the_whole_run(child: Child, tmp_path: Path) -> None:
    ramp = spec(users=0, shape=RampShape(from_users=10))
    assert users_of(ticks(child, ramp, tmp_path, [0, 5, 9.5, 10])) == [10, 5, 0, None]


def test_spike_rises_for_its_window_then_falls_back(child: Child, tmp_path: Path) -> None:
    spike = spec(users=2, spawn_rate=1, shape=SpikeShape(spike_users=12, at_s=3, for_s=2))
    result = ticks(child, spike, tmp_path, [0, 2.9, 3, 4.9, 5, 9, 10])
    # into and out of the spike at the spike rate (default: the whole jump in a second)
    assert result == [[2, 1.0], [2, 1.0], [12, 10.0], [12, 10.0], [2, 10.0], [2, 10.0], None]


def test_replay_of_users_interpolates_and_compresses_time(child: Child, tmp_path: Path) -> None:
    (tmp_path / "curve.csv").write_text("t_seconds,users\n# recorded\n0,1\n10,11\n20,3\n")
    replay = spec(duration_s=60, shape=ReplayShape(path=Path("curve.csv"), time_scale=2))
    result = ticks(child, replay, tmp_path, [0, 2.5, 5, 7.5, 9.9, 10])
    # recorded t = 2 x real t; the curve ends at its last point (20 s recorded = 10 s real)
    assert users_of(result) == [1, 6, 11, 7, 4, None]


def test_replay_steps_without_interpolation(child: Child, tmp_path: Path) -> None:
    (tmp_path / "curve.csv").write_text("t_seconds,users\n0,1\n4,5\n8,0\n")
    replay = spec(shape=ReplayShape(path=tmp_path / "curve.csv", interpolate=False))
    result = ticks(child, replay, tmp_path, [0, 3.9, 4, 7.9, 8])
    # default spawn rate: the largest jump of the curve, so each step lands within a second
    assert result == [[1, 5.0], [1, 5.0], [5, 5.0], [5, 5.0], None]


def test_replay_of_rps_converts_with_littles_law(child: Child, tmp_path: Path) -> None:
    (tmp_path / "curve.csv").write_text("t_seconds,rps\n0,10\n5,41\n10,0\n")
    curve = ReplayShape(path=Path("curve.csv"), interpolate=False, seconds_per_request=0.5)
    result = ticks(child, spec(shape=curve), tmp_path, [0, 5, 9])
    assert users_of(result) == [5, 21, 21]  # ceil(10 x 0.5), ceil(41 x 0.5)


def test_replay_is_capped_by_the_run_duration(child: Child, tmp_path: Path) -> None:
    (tmp_path / "curve.csv").write_text("t_seconds,users\n0,3\n100,3\n")
    replay = spec(duration_s=4, shape=ReplayShape(path=Path("curve.csv")))
    assert ticks(child, replay, tmp_path, [3.9, 4]) == [[3, 1.0], None]


def test_request_cap_stops_the_run(child: Child, tmp_path: Path) -> None:
    capped = spec(users=3, max_requests=100)
    assert ticks(child, capped, tmp_path, [1], requests_made=99) == [[3, 10.0]]
    assert ticks(child, capped, tmp_path, [1], requests_made=100) == [None]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CHAOSLAB_SHAPE", "zigzag", "expected steady, ramp, spike or replay"),
        ("CHAOSLAB_SHAPE_PARAMS", "[1, 2]", "must be a JSON object"),
        ("CHAOSLAB_SHAPE_PARAMS", '{"users": -1}', "'users' must be a finite number >= 0"),
        ("CHAOSLAB_SHAPE_PARAMS", '{"users": 1.5}', "'users' must be a whole number"),
        ("CHAOSLAB_RUN_ID", "bad id!", "CHAOSLAB_RUN_ID"),
        ("CHAOSLAB_TASK_WEIGHTS", '{"delete": 1}', "unknown actions"),
        ("CHAOSLAB_WAIT_MIN_S", "1", "CHAOSLAB_WAIT_MIN_S <= CHAOSLAB_WAIT_MAX_S"),
        ("CHAOSLAB_DURATION_S", "soon", "is not a number"),
    ],
)
def test_malformed_configuration_is_refused(
    child: Child, tmp_path: Path, variable: str, value: str, message: str
) -> None:
    env = {**locust_env(spec(users=1), tmp_path), variable: value}
    answer = child.ask({"kind": "shape", "env": env, "times": [0], "requests_made": 0})
    assert message in answer.get("error", "")


def test_a_bad_replay_file_names_the_line(child: Child, tmp_path: Path) -> None:
    (tmp_path / "curve.csv").write_text("# recorded 2024-05-01\nt_seconds,users\n0,1\n5,2\n4,3\n")
    env = locust_env(spec(shape=ReplayShape(path=Path("curve.csv"))), tmp_path)
    answer = child.ask({"kind": "shape", "env": env, "times": [0], "requests_made": 0})
    assert "curve.csv, line 5: t_seconds must increase" in answer.get("error", "")


def test_locust_itself_refuses_to_start_on_bad_configuration(tmp_path: Path) -> None:
    env = {**locust_env(spec(users=1), tmp_path), "CHAOSLAB_SHAPE": "zigzag"}
    done = locust_cli(env)
    assert done.returncode != 0
    assert "CHAOSLAB_SHAPE='zigzag': expected steady, ramp, spike or replay" in done.stderr


def user_run(child: Child, tmp_path: Path, seed: int, **fields: object) -> Answer:
    env = locust_env(spec(seed=seed, run_id="unit-users", **fields), tmp_path)
    answer = child.ask({"kind": "user", "env": env, "draws": 1100})
    assert "ok" in answer, answer
    result: Answer = answer["ok"]
    return result


def test_users_replay_the_same_actions_for_the_same_seed(child: Child, tmp_path: Path) -> None:
    first, again, other = (user_run(child, tmp_path, seed) for seed in (7, 7, 8))
    assert first["actions"] == again["actions"]
    assert first["waits"] == again["waits"]
    assert first["actions"] != other["actions"]


def test_user_task_mix_and_think_time_follow_the_settings(child: Child, tmp_path: Path) -> None:
    result = user_run(child, tmp_path, 7)
    actions: list[str] = result["actions"]
    counts = {name: actions.count(name) for name in ("create", "get", "list", "reprocess")}
    # default weights 3:5:2:1 over 1100 draws: about 300/500/200/100 (fixed seed: no flakes)
    assert 240 <= counts["create"] <= 360
    assert 420 <= counts["get"] <= 580
    assert 150 <= counts["list"] <= 250
    assert 60 <= counts["reprocess"] <= 140
    waits: list[float] = result["waits"]
    assert all(0.05 <= wait <= 0.2 for wait in waits)
    assert len(set(waits)) > 1
    assert result["headers"]["X-Chaoslab-Run"] == "unit-users"


def test_task_weights_from_the_spec_reach_the_users(child: Child, tmp_path: Path) -> None:
    only_lists = {"create": 0, "get": 0, "list": 1, "reprocess": 0}
    assert set(user_run(child, tmp_path, 1, weights=only_lists)["actions"]) == {"list"}
    only_reads = {"create": 0, "get": 1, "list": 0, "reprocess": 0}
    actions = user_run(child, tmp_path, 1, weights=only_reads)["actions"]
    assert actions[0] == "create"  # nothing to read yet: a user creates first
    assert set(actions[1:]) == {"get"}


def test_the_lab_side_never_imports_locust() -> None:
    code = (
        "import sys, scenarios.load, scenarios.loadmodel;"
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('locust', 'gevent', 'loadtests')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert "locust" not in sys.modules
    assert "loadtests" not in sys.modules
